package main

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/ctxmap/ctxmap/tiles"
)

func TestGenerateIsDeterministicAndImportable(t *testing.T) {
	c := genConfig{n: 3000, subjects: 400, seed: 7, now: time.Date(2026, 5, 15, 0, 0, 0, 0, time.UTC),
		unsafeShare: 0.15, olderShare: 0.15, monthOnly: 0.10, uniformShare: 0.10}
	var a, b bytes.Buffer
	if err := generate(c, &a); err != nil {
		t.Fatal(err)
	}
	if err := generate(c, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same config gave different CSVs")
	}
	recs, err := csv.NewReader(&a).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "subject,categories,familial,layer,occurred,source,location_type,lat,lon" {
		t.Fatalf("header %q", got)
	}
	if len(recs)-1 != c.n {
		t.Fatalf("%d rows, want %d", len(recs)-1, c.n)
	}
	subjects := map[string]bool{}
	for _, r := range recs[1:] {
		subjects[r[0]] = true
		occurred := r[4]
		if len(occurred) == len("2006-01") {
			occurred += "-01"
		}
		d, err := time.Parse("2006-01-02", occurred)
		if err != nil || !d.Before(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) || d.Before(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("occurred %q outside the 24 complete months before May 2026", r[4])
		}
		lat, _ := strconv.ParseFloat(r[7], 64)
		lon, _ := strconv.ParseFloat(r[8], 64)
		if lat < londonBBox[1] || lat > londonBBox[3] || lon < londonBBox[0] || lon > londonBBox[2] {
			t.Fatalf("%v,%v outside the data area", lat, lon)
		}
		if r[3] != "harm" && r[3] != "unsafe" {
			t.Fatalf("layer %q", r[3])
		}
	}
	if len(subjects) > c.subjects || len(subjects) < c.subjects*9/10 {
		t.Fatalf("%d distinct subjects, want about %d", len(subjects), c.subjects)
	}
}

func TestHeatFuncFollowsResForZoom(t *testing.T) {
	sql := heatFuncSQL()
	for _, want := range []string{"IF z <= 9 THEN", "ELSIF z <= 11 THEN", "ELSE", "l.h3_r6 = h.h3", "l.h3_r7 = h.h3", "l.h3_r8 = h.h3", "margin => 64.0 / 4096"} {
		if !strings.Contains(sql, want) {
			t.Errorf("function lacks %q", want)
		}
	}
}

func TestParseCopy(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("PGCOPY\n\xff\r\n\x00")
	b.Write(make([]byte, 8)) // flags, header extension length
	be := binary.BigEndian
	row := func(subject int64, key int16, cell int64) {
		b.Write(be.AppendUint16(nil, 3))
		b.Write(be.AppendUint32(nil, 8))
		b.Write(be.AppendUint64(nil, uint64(subject)))
		b.Write(be.AppendUint32(nil, 2))
		b.Write(be.AppendUint16(nil, uint16(key)))
		b.Write(be.AppendUint32(nil, 8))
		b.Write(be.AppendUint64(nil, uint64(cell)))
	}
	row(42, 200, 0x88195da49bfffff)
	row(7, 3, 0x8819400001fffff)
	b.Write(be.AppendUint16(nil, 0xffff))
	got, err := parseCopy(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []tiles.Observation{{Subject: 42, Key: 200, Cell: h3.Cell(0x88195da49bfffff)}, {Subject: 7, Key: 3, Cell: h3.Cell(0x8819400001fffff)}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := parseCopy(b.Bytes()[:b.Len()-2]); err == nil {
		t.Fatal("a stream without its trailer was accepted")
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	if pct(d, 50) != 50*time.Millisecond || pct(d, 99) != 99*time.Millisecond || pct(d[:1], 99) != time.Millisecond {
		t.Fatalf("p50 %v p99 %v", pct(d, 50), pct(d, 99))
	}
}

func TestLuaCyclesEveryPath(t *testing.T) {
	var b bytes.Buffer
	if err := writeLua(&b, []string{"/tiles/heat/12/1/2.mvt?x=1", "/tiles/heat/12/3/4.mvt"}, ""); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{`"/tiles/heat/12/1/2.mvt?x=1",`, `"/tiles/heat/12/3/4.mvt",`, "function request()", "function setup(thread)"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
