package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctxmap/ctxmap/migrations/pg"
	"github.com/ctxmap/ctxmap/migrations/pg/pgtest"
)

// The crash test's timeline, from the first request: crash PostgreSQL while
// the clients are writing, leave it down for a moment (every write fails),
// restart it, and keep writing until writes succeed again.
const (
	crashClients  = 20
	crashAfter    = 2500 * time.Millisecond
	crashDowntime = time.Second
	crashTail     = 1500 * time.Millisecond // load after the restart
	crashDeadline = 15 * time.Second        // give up waiting for a 201 after the restart
)

// ack is what a 201 said about the record it made. The creation time tells
// a surviving record from a later one that was given a lost record's id (a
// sequence's WAL can be lost along with the commit that used it).
type ack struct {
	id      int64
	created time.Time
}

// crashTally is what the clients saw, split by phase.
type crashTally struct {
	mu          sync.Mutex
	acked       []ack // every record answered 201
	okBefore    int   // 201s sent before the crash
	okAfter     int   // 201s sent after the restart
	failDuring  int   // failures (any non-201 or transport error) while down
	failOther   int   // failures outside the outage
	otherStatus map[int]int
}

// TestCrashDuringWriteLoadLosesNoAcknowledgedWrite is issue 11's first
// finding as a test: 20 clients post harm locations, PostgreSQL is killed
// (pg_ctl stop -m immediate) in the middle of it and restarted, and every
// record the server answered 201 must be in harm_locations afterwards. With
// synchronous_commit off a commit is acknowledged before its WAL is flushed,
// and this is where such writes disappear. The cluster is the test's own, so
// crashing it disturbs no other test package.
func TestCrashDuringWriteLoadLosesNoAcknowledgedWrite(t *testing.T) {
	begin := time.Now()
	cl := pgtest.NewCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Run(ctx, []string{"migrate", "up", "--database-url", cl.URL()}, nil, io.Discard, io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	token := addUser(t, "", "--database-url", cl.URL(), "--name", "crash-practitioner", "--role", "practitioner", "--team", "crash-team")
	base := serveOn(t, ctx, cl.URL(), "error")
	t.Logf("set-up (initdb, PostGIS, migrations, server) took %v", time.Since(begin).Round(10*time.Millisecond))

	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: crashClients},
	}
	defer client.CloseIdleConnections()
	// phase: 0 before the crash, 1 while down (from the crash command until
	// the restart returned), 2 after the restart.
	var phase atomic.Int32
	stop := make(chan struct{})
	tally := &crashTally{otherStatus: map[int]int{}}
	var wg sync.WaitGroup
	loadStart := time.Now()
	for i := range crashClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				sent := phase.Load()
				a, status := postHarmLocation(client, base, token, fmt.Sprintf("crash-%d-%d", i, n%50))
				done := phase.Load()
				tally.record(sent, done, a, status)
				if status != http.StatusCreated {
					time.Sleep(20 * time.Millisecond) // no busy loop while the database is down
				}
			}
		}()
	}

	time.Sleep(crashAfter)
	phase.Store(1)
	crashAt := time.Since(loadStart)
	if err := cl.Crash(); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("crash: %v", err)
	}
	time.Sleep(crashDowntime)
	if err := cl.Start(); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("restart: %v", err)
	}
	restartAt := time.Since(loadStart)
	phase.Store(2)
	// Keep writing for a while, and at least until the server writes again.
	time.Sleep(crashTail)
	for deadline := time.Now().Add(crashDeadline); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		tally.mu.Lock()
		ok := tally.okAfter
		tally.mu.Unlock()
		if ok > 0 {
			break
		}
	}
	close(stop)
	wg.Wait()
	loadTime := time.Since(loadStart)

	pool, err := pg.Connect(ctx, cl.URL(), nil, pg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ids := make([]int64, len(tally.acked))
	for i, a := range tally.acked {
		ids[i] = a.id
	}
	stored := map[int64]time.Time{}
	rows, err := pool.Query(ctx, `SELECT id, created_at FROM harm_locations WHERE id = ANY($1)`, ids)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var created time.Time
		if err := rows.Scan(&id, &created); err != nil {
			t.Fatal(err)
		}
		stored[id] = created
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var lost []int64
	for _, a := range tally.acked {
		created, ok := stored[a.id]
		if !ok || (!a.created.IsZero() && !created.Equal(a.created)) {
			lost = append(lost, a.id)
		}
	}
	found := len(tally.acked) - len(lost)
	var total int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM harm_locations`).Scan(&total); err != nil {
		t.Fatal(err)
	}

	t.Logf("%d clients for %v (crash at %v, restarted at %v): %d records acknowledged (%d before the crash, %d after the restart), %d found after restart, %d rows in harm_locations; %d failures while down, %d other failures %v; whole test %v",
		crashClients, loadTime.Round(10*time.Millisecond), crashAt.Round(10*time.Millisecond), restartAt.Round(10*time.Millisecond),
		len(tally.acked), tally.okBefore, tally.okAfter, found, total, tally.failDuring, tally.failOther, tally.otherStatus,
		time.Since(begin).Round(10*time.Millisecond))
	if tally.okBefore == 0 || tally.failDuring == 0 {
		t.Fatalf("the load did not overlap the crash: %d records acknowledged before it, %d failures while down", tally.okBefore, tally.failDuring)
	}
	if tally.okAfter == 0 {
		t.Errorf("no write succeeded within %v of the restart", crashTail+crashDeadline)
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged records lost in the crash: ids %v", len(lost), len(tally.acked), lost)
	}
}

// record files one answer under the phase it was sent and answered in. A
// request that straddles the crash or the restart counts as neither before
// nor after; its failure counts as during the outage.
func (c *crashTally) record(sent, done int32, a ack, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if status == http.StatusCreated {
		c.acked = append(c.acked, a)
		switch {
		case done == 0:
			c.okBefore++
		case sent == 2:
			c.okAfter++
		}
		return
	}
	if sent == 1 || done == 1 || sent != done {
		c.failDuring++
	} else {
		c.failOther++
		c.otherStatus[status]++
	}
}

// postHarmLocation posts one harm location by lat/lon (no postcode directory
// needed) and returns what the answer said about the new record with the
// status; status 0 means the request got no answer.
func postHarmLocation(client *http.Client, base, token, subject string) (ack, int) {
	body, _ := json.Marshal(map[string]any{
		"subject": subject, "categories": []string{"cse"}, "familial": "extra", "layer": "harm",
		"occurred": recentMonth(), "source": "referral", "lat": 51.545, "lon": -0.055, "location_type": "park",
	})
	req, err := http.NewRequest("POST", base+"/api/v1/harm-locations", bytes.NewReader(body))
	if err != nil {
		return ack{}, 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return ack{}, 0
	}
	defer resp.Body.Close()
	var out struct {
		ID        int64     `json:"id"`
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || (resp.StatusCode == http.StatusCreated && out.ID == 0) {
		// A 201 whose body we could not read acknowledges nothing we can check.
		return ack{}, -resp.StatusCode
	}
	return ack{id: out.ID, created: out.CreatedAt}, resp.StatusCode
}
