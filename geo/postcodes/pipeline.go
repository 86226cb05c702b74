package postcodes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"sync"

	"github.com/schollz/progressbar/v3"
)

// chunk is a run of whole CSV lines from one source.
type chunk struct {
	src  *source
	buf  *[]byte // returned to the pool once parsed
	data []byte
	line int // line number of data's first line
}

// pipeline reads sources into chunks (one goroutine), parses and encodes
// them (Workers goroutines) and feeds the encoded tuples to COPY (the
// caller's goroutine, through Read).
type pipeline struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	chunks chan chunk
	out    chan *[]byte
	bufs   sync.Pool
	bar    *progressbar.ProgressBar

	mu    sync.Mutex
	stats rowStats

	// COPY stream state, used only by Read.
	cur     []byte
	curBuf  *[]byte
	state   int // 0 header, 1 tuples, 2 trailer, 3 done
	batches int
	hook    func(int)
}

// copyRows streams every source into postcodes_next and returns the counts.
// sink consumes the stream: COPY on the import's connection, or a discard
// in benchmarks of the parsing side alone.
func copyRows(ctx context.Context, sink func(io.Reader) error, format string, srcs []source, opts ImportOptions, bar *progressbar.ProgressBar) (rowStats, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pl := &pipeline{
		ctx: pctx, cancel: cancel, bar: bar, hook: opts.afterBatch,
		chunks: make(chan chunk, workers),
		out:    make(chan *[]byte, workers),
		stats:  newRowStats(),
	}
	pl.bufs.New = func() any { b := make([]byte, 0, chunkSize+chunkSize/2); return &b }

	var wg sync.WaitGroup
	wg.Go(func() {
		if err := pl.produce(srcs); err != nil {
			cancel(err)
		}
	})
	var workersWG sync.WaitGroup
	for range workers {
		workersWG.Go(func() { pl.work(format) })
	}
	wg.Go(func() {
		workersWG.Wait()
		close(pl.out)
	})

	err := sink(pl)
	if err != nil {
		// Prefer the pipeline's own failure (a corrupt archive, say) to the
		// COPY error it provoked.
		if cause := context.Cause(pctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		} else if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
	}
	cancel(errors.New("copy finished"))
	wg.Wait()
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if err != nil {
		return pl.stats, fmt.Errorf("import postcodes: %w", err)
	}
	return pl.stats, nil
}

func newRowStats() rowStats {
	return rowStats{skipped: map[string]int64{}, warnings: map[string]int64{}, examples: map[string][]string{},
		sectors: map[string]*sums{}}
}

func (pl *pipeline) getBuf() *[]byte { return pl.bufs.Get().(*[]byte) }

func (pl *pipeline) putBuf(b *[]byte) {
	*b = (*b)[:0]
	pl.bufs.Put(b)
}

// produce cuts each source into chunks of whole lines, dropping ONSPD's
// header line.
func (pl *pipeline) produce(srcs []source) error {
	defer close(pl.chunks)
	carry := make([]byte, 0, 64<<10)
	for i := range srcs {
		s := &srcs[i]
		r, err := s.open()
		if err != nil {
			return fmt.Errorf("open %s: %w", s.name, err)
		}
		err = pl.produceOne(s, r, &carry)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (pl *pipeline) produceOne(s *source, r io.Reader, carry *[]byte) error {
	line := 1
	skipHeader := s.schema.header
	*carry = (*carry)[:0]
	for {
		b := pl.getBuf()
		buf := append((*b)[:0], *carry...)
		n, err := fill(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if pl.bar != nil {
			_ = pl.bar.Add(n)
		}
		eof := err == io.EOF
		if err != nil && !eof {
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		*carry = (*carry)[:0]
		if !eof {
			cut := bytes.LastIndexByte(buf, '\n')
			if cut < 0 {
				return fmt.Errorf("read %s: line %d is longer than %d bytes", s.name, line, len(buf))
			}
			*carry = append(*carry, buf[cut+1:]...)
			buf = buf[:cut+1]
		}
		*b = buf
		data := buf
		if skipHeader {
			skipHeader = false
			if j := bytes.IndexByte(data, '\n'); j >= 0 {
				data = data[j+1:]
			} else {
				data = nil
			}
			line++
		}
		c := chunk{src: s, buf: b, data: data, line: line}
		line += bytes.Count(data, []byte{'\n'})
		select {
		case pl.chunks <- c:
		case <-pl.ctx.Done():
			return nil
		}
		if eof {
			return nil
		}
	}
}

// fill reads into p until it is full or the reader ends. Unlike
// io.ReadFull it passes io.ErrUnexpectedEOF through as an error: a
// truncated deflate stream reports exactly that, and must fail the import
// rather than pass for the end of the file.
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// work parses chunks into COPY tuples until the chunks run out.
func (pl *pipeline) work(format string) {
	st := newRowStats()
	defer pl.merge(&st)
	enc := &encoder{source: []byte(format)}
	for c := range pl.chunks {
		enc.sc = c.src.schema
		out := pl.getBuf()
		*out = enc.encodeChunk((*out)[:0], c.data, c.src.name, c.line, &st)
		pl.putBuf(c.buf)
		select {
		case pl.out <- out:
		case <-pl.ctx.Done():
			// Drain so the producer is not left blocked.
			for c := range pl.chunks {
				pl.putBuf(c.buf)
			}
			return
		}
	}
}

func (pl *pipeline) merge(st *rowStats) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	t := &pl.stats
	t.rows += st.rows
	t.loaded += st.loaded
	t.unlocated += st.unlocated
	t.terminated += st.terminated
	for k, v := range st.skipped {
		t.skipped[k] += v
	}
	for k, v := range st.warnings {
		t.warnings[k] += v
	}
	for k, s := range st.sectors {
		if t.sectors[k] == nil {
			t.sectors[k] = &sums{}
		}
		t.sectors[k].merge(s)
	}
	for _, k := range slices.Sorted(maps.Keys(st.examples)) {
		for _, e := range st.examples[k] {
			if len(t.examples[k]) < maxExamples {
				t.examples[k] = append(t.examples[k], e)
			}
		}
	}
}

// Read implements io.Reader for pgconn.CopyFrom: the binary COPY header,
// then each encoded batch as the workers finish it, then the trailer.
func (pl *pipeline) Read(p []byte) (int, error) {
	for len(pl.cur) == 0 {
		switch pl.state {
		case 0:
			pl.cur, pl.state = copyHeader, 1
		case 1:
			if pl.curBuf != nil {
				pl.putBuf(pl.curBuf)
				pl.curBuf = nil
				pl.batches++
				if pl.hook != nil {
					pl.hook(pl.batches)
				}
			}
			select {
			case b, ok := <-pl.out:
				if !ok {
					if pl.ctx.Err() != nil {
						return 0, context.Cause(pl.ctx)
					}
					pl.cur, pl.state = copyTrailer, 2
					continue
				}
				pl.curBuf, pl.cur = b, *b
			case <-pl.ctx.Done():
				return 0, context.Cause(pl.ctx)
			}
		default:
			pl.state = 3
			return 0, io.EOF
		}
	}
	n := copy(p, pl.cur)
	pl.cur = pl.cur[n:]
	return n, nil
}
