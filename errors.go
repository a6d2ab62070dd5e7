package cairn

import (
	"errors"
	"fmt"
	"io/fs"
)

// Kind classifies an error. Kinds cross the wire, so a client sees the
// NameNode's NotExist as NotExist and can test it with errors.Is.
type Kind uint8

// The kinds of error. The numbers are part of the wire protocol: add
// new kinds at the end, never renumber.
const (
	Other           Kind = iota // unclassified
	Invalid                     // invalid argument, such as a bad path
	Permission                  // permission denied
	Exist                       // file or directory already exists
	NotExist                    // file or directory does not exist
	IsDir                       // is a directory
	NotDir                      // is not a directory
	NotEmpty                    // directory not empty
	LeaseConflict               // file is being written by another client
	SafeMode                    // NameNode is in safe mode
	NotLeader                   // NameNode is not the Raft leader
	Unavailable                 // a server cannot be reached
	Corrupt                     // data failed its checksum
	NoSpace                     // no DataNode or disk has room
	IO                          // an I/O error on a server
	Internal                    // a bug
	ClusterMismatch             // DataNode belongs to another cluster
	Closed                      // use of a closed file or client
	NotReplicated               // not enough DataNodes for a block
	Unknown                     // a node or block the server does not know
	Unauthenticated             // no valid credentials: a missing, expired, revoked or forged token
)

var kindNames = [...]string{
	Other:           "other error",
	Invalid:         "invalid argument",
	Permission:      "permission denied",
	Exist:           "file already exists",
	NotExist:        "file does not exist",
	IsDir:           "is a directory",
	NotDir:          "not a directory",
	NotEmpty:        "directory not empty",
	LeaseConflict:   "file is being written by another client",
	SafeMode:        "name node is in safe mode",
	NotLeader:       "name node is not the leader",
	Unavailable:     "unavailable",
	Corrupt:         "checksum error",
	NoSpace:         "no space left",
	IO:              "i/o error",
	Internal:        "internal error",
	ClusterMismatch: "cluster ID mismatch",
	Closed:          "file already closed",
	NotReplicated:   "not enough datanodes",
	Unknown:         "unknown node or block",
	Unauthenticated: "unauthenticated",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Is lets errors.Is(err, cairn.NotExist) match an *Error of that kind.
// It also lets a Kind stand as a target on its own.
func (k Kind) Error() string { return k.String() }

// fsTwin maps kinds to their io/fs sentinels.
func (k Kind) fsTwin() error {
	switch k {
	case Invalid:
		return fs.ErrInvalid
	case Permission, Unauthenticated:
		return fs.ErrPermission
	case Exist:
		return fs.ErrExist
	case NotExist:
		return fs.ErrNotExist
	case Closed:
		return fs.ErrClosed
	}
	return nil
}

// Error is the one error type of cairn. It says which operation failed,
// on what path, of what kind, and wraps the cause.
type Error struct {
	Op   string // operation, such as "create" or "namenode.AddBlock"
	Path string // file path or block name; may be empty
	Kind Kind
	Err  error // underlying error; may be nil
}

// E builds an *Error. Its arguments are taken by type: a string is the
// Op if no Op was set yet and the Path after that, a Kind is the kind,
// an error is the cause. If the cause is an *Error and no kind was
// given, its kind is kept.
func E(op string, args ...any) error {
	e := &Error{Op: op}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			e.Path = a
		case Kind:
			e.Kind = a
		case *Error:
			e.Err = a
		case error:
			e.Err = a
		}
	}
	if e.Kind == Other && e.Err != nil {
		var inner *Error
		if errors.As(e.Err, &inner) {
			e.Kind = inner.Kind
		}
	}
	return e
}

// Errorf builds an *Error whose cause is a formatted message.
func Errorf(op, path string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Path: path, Kind: kind, Err: fmt.Errorf(format, args...)}
}

func (e *Error) Error() string {
	var b []byte
	if e.Op != "" {
		b = append(b, e.Op...)
	}
	if e.Path != "" {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, e.Path...)
	}
	msg := ""
	if e.Err != nil {
		msg = e.Err.Error()
		// Avoid "x: not exist: file does not exist" stutter when the
		// cause is a bare message equal to the kind.
		var inner *Error
		if errors.As(e.Err, &inner) && inner.Op == "" && inner.Path == "" && inner.Err == nil {
			msg = ""
		}
	}
	if msg == "" {
		msg = e.Kind.String()
	}
	if len(b) > 0 {
		b = append(b, ": "...)
	}
	b = append(b, msg...)
	return string(b)
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is this error's kind or the io/fs sentinel
// that twins it, so errors.Is(err, fs.ErrNotExist) works for users.
func (e *Error) Is(target error) bool {
	if k, ok := target.(Kind); ok {
		return e.Kind == k && k != Other
	}
	if twin := e.Kind.fsTwin(); twin != nil && target == twin {
		return true
	}
	return false
}

// KindOf returns the kind of the outermost *Error in err's chain that
// has one, or Other.
func KindOf(err error) Kind {
	for err != nil {
		if e, ok := err.(*Error); ok && e.Kind != Other {
			return e.Kind
		}
		err = errors.Unwrap(err)
	}
	return Other
}
