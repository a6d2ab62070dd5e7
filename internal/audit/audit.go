// Package audit writes a NameNode's audit log: one line per namespace
// operation, allowed or refused, in the fields of HDFS's audit log
// (FSNamesystem's DefaultAuditLogger) or as JSON, to a file rotated by
// size.
//
// # Formats
//
// The hdfs format is the line HDFS's NameNode writes with its default
// log4j layout, so that tools that read HDFS audit logs read cairn's:
//
//	2026-12-07 20:22:27,123 INFO FSNamesystem.audit: allowed=true	ugi=alice (auth:SIMPLE)	ip=/127.0.0.1	cmd=create	src=/a/b	dst=null	perm=alice:supergroup:rw-r--r--	proto=rpc
//
// Fields are separated by tabs; the time is the NameNode's local time
// with milliseconds; an absent value is null, as HDFS writes it. A
// control character or a backslash in a value (a path may hold any
// byte but / and NUL) is escaped as in Java (\t, \n, \r, \\, \uXXXX),
// so that a path cannot forge a line or a field.
//
// The json format is one JSON object per line with the same fields:
//
//	{"time":"2026-12-07T20:22:27.123Z","allowed":true,"ugi":"alice","auth":"SIMPLE","ip":"127.0.0.1","cmd":"create","src":"/a/b","dst":null,"perm":"alice:supergroup:rw-r--r--","proto":"rpc"}
//
// time is UTC in RFC 3339 with milliseconds; ugi is the user alone,
// with the authentication method in auth; ip has no leading slash; an
// absent value is JSON null.
//
// # Delivery
//
// Log never writes: it queues the event for one goroutine that wakes at
// most every 2ms to take the events queued, formats them into a buffer,
// writes the buffer to the file when it fills and at least every
// FlushInterval, and flushes everything at Close. When the
// queue is full (the disk cannot keep up), Log waits up to QueueWait
// for room and then drops the event and counts it (Dropped); the
// writer warns about drops at most once per FlushInterval. So a slow
// or stuck disk slows namespace operations by at most QueueWait each
// and never stops them; an audit log that must never lose a line needs
// a disk that keeps up.
package audit

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/cairn-fs/cairn"
)

// Format is the form of the lines of an audit log.
type Format int

const (
	// HDFS is HDFS's audit line: tab-separated key=value fields.
	HDFS Format = iota
	// JSON is a JSON object per line.
	JSON
)

// ParseFormat returns the format named s: "hdfs" (or "") or "json".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "hdfs":
		return HDFS, nil
	case "json":
		return JSON, nil
	}
	return 0, errors.New("audit: unknown format " + strconv.Quote(s) + ": want hdfs or json")
}

func (f Format) String() string {
	if f == JSON {
		return "json"
	}
	return "hdfs"
}

// Event is one audited operation.
type Event struct {
	Time    time.Time
	Allowed bool
	// User is the caller's user name; empty: unknown (null).
	User string
	// Auth is how the user was established, as HDFS names it (SIMPLE,
	// TOKEN, KERBEROS); empty: SIMPLE.
	Auth string
	// IP is the caller's address; invalid: unknown (null).
	IP netip.Addr
	// Cmd is the operation, by HDFS's name (create, open, rename...).
	Cmd string
	// Src and Dst are the paths the operation names; empty: null.
	Src, Dst string
	// HasPerm says whether Owner, Group and Mode hold the resulting
	// owner, group and permission; without it perm is null.
	HasPerm      bool
	Owner, Group string
	Mode         fs.FileMode
	// Proto is the protocol the operation came by; empty: rpc.
	Proto string
}

// Config configures a Logger.
type Config struct {
	// Path is the file written; required unless Writer is set. Rotated
	// files are kept beside it, named with the time of rotation
	// (audit-2026-12-07T20-22-27.123.log for audit.log).
	Path string
	// Format is the form of the lines; zero: HDFS.
	Format Format
	// MaxSize is the size at which the file is rotated, rounded up to
	// whole MiB; 0: 256 MiB.
	MaxSize int64
	// MaxBackups is the number of rotated files kept; 0: 10.
	MaxBackups int
	// Queue is the number of events waiting to be written that Log
	// accepts without waiting; 0: 1024 (the writer empties it every
	// 2ms; a bigger queue is more memory for the GC to scan).
	Queue int
	// QueueWait is how long Log waits for room in a full queue before
	// it drops the event; 0: 50ms, negative: it never waits.
	QueueWait time.Duration
	// FlushInterval bounds how long a line stays in memory before it is
	// written to the file; 0: 1s.
	FlushInterval time.Duration
	// Writer, if set, receives the lines instead of a rotated file at
	// Path (a test seam); Close closes it if it is an io.Closer.
	Writer io.Writer
}

// Logger writes an audit log. Its methods may be called concurrently.
type Logger struct {
	cfg  Config
	log  *slog.Logger
	ch   chan Event
	quit chan struct{}
	done chan struct{}
	out  io.Writer

	closed  atomic.Bool
	dropped atomic.Uint64
	failed  atomic.Uint64 // writes to the file that failed

	closeOnce sync.Once
	closeErr  error
}

// New opens the audit log at cfg.Path (creating it, and appending to an
// existing one) and starts its writer.
func New(cfg Config, log *slog.Logger) (*Logger, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = 256 << 20
	}
	if cfg.MaxBackups == 0 {
		cfg.MaxBackups = 10
	}
	if cfg.Queue == 0 {
		cfg.Queue = 1024
	}
	if cfg.QueueWait == 0 {
		cfg.QueueWait = 50 * time.Millisecond
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.MaxSize < 0 || cfg.MaxBackups < 0 || cfg.Queue < 0 {
		return nil, errors.New("audit: negative MaxSize, MaxBackups or Queue")
	}
	out := cfg.Writer
	if out == nil {
		if cfg.Path == "" {
			return nil, errors.New("audit: Config.Path is required")
		}
		lj := &lumberjack.Logger{
			Filename:   cfg.Path,
			MaxSize:    int((cfg.MaxSize + 1<<20 - 1) >> 20),
			MaxBackups: cfg.MaxBackups,
			LocalTime:  true,
		}
		// Open now, so that a path that cannot be written fails the
		// start, not the first line.
		if _, err := lj.Write(nil); err != nil {
			return nil, cairn.E("audit.New", cfg.Path, cairn.IO, err)
		}
		out = lj
	}
	l := &Logger{
		cfg:  cfg,
		log:  log,
		ch:   make(chan Event, cfg.Queue),
		quit: make(chan struct{}),
		done: make(chan struct{}),
		out:  out,
	}
	go l.run()
	return l, nil
}

// Log queues e to be written. It waits at most QueueWait; an event it
// cannot queue, or one logged after Close, is dropped and counted.
func (l *Logger) Log(e Event) {
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	select {
	case l.ch <- e:
		return
	default:
	}
	if l.cfg.QueueWait > 0 {
		t := time.NewTimer(l.cfg.QueueWait)
		defer t.Stop()
		select {
		case l.ch <- e:
			return
		case <-t.C:
		case <-l.quit:
		}
	}
	l.dropped.Add(1)
}

// Dropped returns the number of events dropped so far.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Close writes the events queued, flushes the file and closes it. Events
// logged after Close begins may be dropped.
func (l *Logger) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.quit)
		<-l.done
		if c, ok := l.out.(io.Closer); ok {
			if err := c.Close(); err != nil && l.closeErr == nil {
				l.closeErr = err
			}
		}
	})
	return l.closeErr
}

// run is the writer: it formats queued events into w, flushing it every
// FlushInterval, until Close.
func (l *Logger) run() {
	defer close(l.done)
	w := bufio.NewWriterSize(errWriter{l}, 64<<10)
	var buf []byte
	write := func(e *Event) {
		buf = l.append(buf[:0], e)
		w.Write(buf)
	}
	tick := time.NewTicker(l.cfg.FlushInterval)
	defer tick.Stop()
	var warnedDrops, warnedFails uint64
	report := func() {
		if d := l.dropped.Load(); d != warnedDrops {
			l.log.Warn("audit log: events dropped: the queue was full", "dropped", d-warnedDrops, "droppedTotal", d)
			warnedDrops = d
		}
		if f := l.failed.Load(); f != warnedFails {
			l.log.Warn("audit log: writes failed", "failed", f-warnedFails, "path", l.cfg.Path)
			warnedFails = f
		}
	}
	for {
		select {
		case e := <-l.ch:
			write(&e)
			// Let the queue fill for a moment, then take all of it:
			// under load the writer wakes once per batchDelay, not once
			// per event, which would cost the callers' CPU.
			pause := time.NewTimer(batchDelay)
			select {
			case <-pause.C:
			case <-l.quit:
				pause.Stop()
			}
			for n := len(l.ch); n > 0; n-- {
				e := <-l.ch
				write(&e)
			}
		case <-tick.C:
			w.Flush()
			report()
		case <-l.quit:
			for {
				select {
				case e := <-l.ch:
					write(&e)
					continue
				default:
				}
				break
			}
			if err := w.Flush(); err != nil {
				l.closeErr = err
			}
			report()
			return
		}
	}
}

// batchDelay is how long the writer lets events gather after the first
// of a batch.
const batchDelay = 2 * time.Millisecond

// errWriter counts the failed writes to the file; bufio.Writer stops
// at its first error, so errWriter never returns one: a write that
// failed (a full disk) is lost, and the ones after it are tried again.
type errWriter struct{ l *Logger }

func (w errWriter) Write(p []byte) (int, error) {
	if _, err := w.l.out.Write(p); err != nil {
		w.l.failed.Add(1)
	}
	return len(p), nil
}

// Append appends e's line, newline included, to b.
func (l *Logger) append(b []byte, e *Event) []byte {
	if l.cfg.Format == JSON {
		return AppendJSON(b, e)
	}
	return AppendHDFS(b, e)
}

// AppendHDFS appends e's line in HDFS's form, newline included, to b.
func AppendHDFS(b []byte, e *Event) []byte {
	b = e.Time.AppendFormat(b, "2006-01-02 15:04:05,000")
	b = append(b, " INFO FSNamesystem.audit: allowed="...)
	b = strconv.AppendBool(b, e.Allowed)
	b = append(b, "\tugi="...)
	if e.User == "" {
		b = append(b, "null"...)
	} else {
		b = appendEscaped(b, e.User)
		b = append(b, " (auth:"...)
		b = append(b, auth(e)...)
		b = append(b, ')')
	}
	b = append(b, "\tip="...)
	if e.IP.IsValid() {
		b = append(b, '/')
		b = e.IP.AppendTo(b)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, "\tcmd="...)
	b = appendEscaped(b, e.Cmd)
	b = append(b, "\tsrc="...)
	b = appendOrNull(b, e.Src)
	b = append(b, "\tdst="...)
	b = appendOrNull(b, e.Dst)
	b = append(b, "\tperm="...)
	if e.HasPerm {
		b = appendEscaped(b, e.Owner)
		b = append(b, ':')
		b = appendEscaped(b, e.Group)
		b = append(b, ':')
		b = appendMode(b, e.Mode)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, "\tproto="...)
	b = append(b, proto(e)...)
	return append(b, '\n')
}

// AppendJSON appends e as a JSON object, newline included, to b.
func AppendJSON(b []byte, e *Event) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","allowed":`...)
	b = strconv.AppendBool(b, e.Allowed)
	b = append(b, `,"ugi":`...)
	b = appendJSONOrNull(b, e.User)
	b = append(b, `,"auth":`...)
	b = appendJSONString(b, auth(e))
	b = append(b, `,"ip":`...)
	if e.IP.IsValid() {
		b = append(b, '"')
		b = e.IP.AppendTo(b)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"cmd":`...)
	b = appendJSONString(b, e.Cmd)
	b = append(b, `,"src":`...)
	b = appendJSONOrNull(b, e.Src)
	b = append(b, `,"dst":`...)
	b = appendJSONOrNull(b, e.Dst)
	b = append(b, `,"perm":`...)
	if e.HasPerm {
		// Owner and group names hold no colon (protocol.CallerFromMetadata
		// refuses one), so the three parts can be told apart.
		b = append(b, '"')
		b = appendJSONChars(b, e.Owner)
		b = append(b, ':')
		b = appendJSONChars(b, e.Group)
		b = append(b, ':')
		b = appendMode(b, e.Mode)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, proto(e))
	return append(b, "}\n"...)
}

func auth(e *Event) string {
	if e.Auth == "" {
		return "SIMPLE"
	}
	return e.Auth
}

func proto(e *Event) string {
	if e.Proto == "" {
		return "rpc"
	}
	return e.Proto
}

// appendMode appends m's permission bits as HDFS's FsPermission prints
// them: rwxr-xr-x, with the sticky bit as t or T in the last place.
func appendMode(b []byte, m fs.FileMode) []byte {
	const rwx = "rwxrwxrwx"
	var s [9]byte
	for i := range 9 {
		if m&(1<<uint(8-i)) != 0 {
			s[i] = rwx[i]
		} else {
			s[i] = '-'
		}
	}
	if m&fs.ModeSticky != 0 {
		if s[8] == 'x' {
			s[8] = 't'
		} else {
			s[8] = 'T'
		}
	}
	return append(b, s[:]...)
}

func appendOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendEscaped(b, s)
}

// appendEscaped appends s with control characters and backslashes
// escaped as Java escapes them, so that no value holds a tab or a
// newline.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c < 0x20 || c == 0x7f:
			b = append(b, `\u00`...)
			b = append(b, hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

const hex = "0123456789abcdef"

func appendJSONOrNull(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONChars(b, s)
	return append(b, '"')
}

// appendJSONChars appends s escaped for a JSON string, without quotes.
func appendJSONChars(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20:
				b = append(b, `\u00`...)
				b = append(b, hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}
