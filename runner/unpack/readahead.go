package unpack

import "io"

// readahead reads its source in a goroutine, a few chunks ahead of the
// consumer, so that decompression runs on one core while files are written
// on another.
type readahead struct {
	full   chan chunk
	free   chan []byte
	stop   chan struct{}
	done   chan struct{}
	cur    []byte
	curBuf []byte
	err    error
}

type chunk struct {
	b   []byte
	err error
}

const (
	raChunks    = 4
	raChunkSize = 256 << 10
)

func newReadahead(r io.Reader) *readahead {
	ra := &readahead{
		full: make(chan chunk, raChunks),
		free: make(chan []byte, raChunks),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	for range raChunks {
		ra.free <- make([]byte, raChunkSize)
	}
	go ra.run(r)
	return ra
}

func (ra *readahead) run(r io.Reader) {
	defer close(ra.done)
	for {
		var b []byte
		select {
		case b = <-ra.free:
		case <-ra.stop:
			return
		}
		n, err := io.ReadFull(r, b)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case ra.full <- chunk{b[:n], err}:
		case <-ra.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read hands out the chunks in order, then the source's error.
func (ra *readahead) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.curBuf != nil {
			ra.free <- ra.curBuf[:cap(ra.curBuf)]
			ra.curBuf = nil
		}
		c := <-ra.full
		ra.cur, ra.curBuf, ra.err = c.b, c.b, c.err
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops the goroutine and waits for it, so the source is not read
// after Close returns (a caller may go on reading it, e.g. to hash the rest).
func (ra *readahead) Close() error {
	close(ra.stop)
	<-ra.done
	return nil
}
