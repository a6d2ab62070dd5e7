package protocol

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-fs/cairn"
)

// ToStatus turns an error from a server into a gRPC status error that
// carries its cairn.Kind, so FromStatus on the other side rebuilds an
// error of the same kind. Servers call it at the RPC boundary.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		if _, isCairn := err.(*cairn.Error); !isCairn {
			return err
		}
	}
	kind := cairn.KindOf(err)
	st := status.New(codeOf(kind, err), err.Error())
	if withDetails, derr := st.WithDetails(StatusFromError(err)); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// FromStatus turns an error returned by a gRPC call into a *cairn.Error
// with the server's kind and message, wrapped under op and path. Errors
// of the transport itself become Unavailable.
func FromStatus(op, path string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return cairn.E(op, path, cairn.Unavailable, err)
		}
		return cairn.E(op, path, err)
	}
	for _, d := range st.Details() {
		if s, ok := d.(*Status); ok {
			return ErrorFromStatus(op, path, s)
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return &cairn.Error{Op: op, Path: path, Kind: cairn.Unavailable, Err: errors.New(st.Message())}
	case codes.Canceled:
		return &cairn.Error{Op: op, Path: path, Kind: cairn.Unavailable, Err: context.Canceled}
	}
	return &cairn.Error{Op: op, Path: path, Kind: cairn.Other, Err: errors.New(st.Message())}
}

// StatusFromError converts an error into the Status carried by RPC
// errors and data-transfer responses; nil gives nil. The status keeps
// the kind, the reason and the innermost path, but not the server's
// operation names: the receiving side puts its own op and path in
// front, so a user reads "create /a: file already exists", not a trail
// of server internals.
func StatusFromError(err error) *Status {
	if err == nil {
		return nil
	}
	s := &Status{Kind: uint32(cairn.KindOf(err))}
	var lh *leaderHintError
	if errors.As(err, &lh) {
		s.LeaderHint = lh.addr
	}
	for e := err; ; {
		if lh, ok := e.(*leaderHintError); ok {
			e = lh.err
			continue
		}
		ce, ok := e.(*cairn.Error)
		if !ok {
			s.Message = e.Error()
			break
		}
		if ce.Path != "" {
			s.Path = ce.Path
		}
		if ce.Err == nil {
			s.Message = ce.Kind.String()
			break
		}
		e = ce.Err
	}
	return s
}

// ErrorFromStatus converts a Status into an error under op and path; a
// nil status or one of kind Other with no message is success. When the
// server's error was about another path than path, that path is kept
// in the message.
func ErrorFromStatus(op, path string, s *Status) error {
	if s == nil || (s.Kind == 0 && s.Message == "") {
		return nil
	}
	msg := s.Message
	if s.Path != "" && s.Path != path {
		msg = s.Path + ": " + msg
	}
	var cause error = errors.New(msg)
	if s.LeaderHint != "" {
		cause = &leaderHintError{addr: s.LeaderHint, err: cause}
	}
	return &cairn.Error{Op: op, Path: path, Kind: cairn.Kind(s.Kind), Err: cause}
}

// leaderHintError is an error that names the NameNode believed to lead
// the group: on the server, the refusal of a member that does not lead
// (WithLeaderHint); on the client, that refusal after FromStatus.
type leaderHintError struct {
	addr string // the leader's client RPC address
	err  error
}

func (e *leaderHintError) Error() string { return e.err.Error() }
func (e *leaderHintError) Unwrap() error { return e.err }

// WithLeaderHint returns err carrying addr, the client RPC address
// (host:port) of the NameNode that leads the group, which ToStatus puts
// in the status's leader_hint field. NameNodes use it on their refusals
// of kind cairn.NotLeader. An empty addr gives err unchanged.
func WithLeaderHint(err error, addr string) error {
	if err == nil || addr == "" {
		return err
	}
	return &leaderHintError{addr: addr, err: err}
}

// LeaderHint returns the leader's client RPC address carried by err: by
// a NameNode's refusal of kind cairn.NotLeader, once converted by
// FromStatus (or built with WithLeaderHint). It is empty when err
// carries none: the refusing NameNode knew no leader, or err is of
// another kind.
func LeaderHint(err error) string {
	var lh *leaderHintError
	if errors.As(err, &lh) {
		return lh.addr
	}
	return ""
}

func codeOf(k cairn.Kind, err error) codes.Code {
	switch k {
	case cairn.Invalid:
		return codes.InvalidArgument
	case cairn.Permission:
		return codes.PermissionDenied
	case cairn.Unauthenticated:
		return codes.Unauthenticated
	case cairn.Exist:
		return codes.AlreadyExists
	case cairn.NotExist:
		return codes.NotFound
	case cairn.SafeMode, cairn.NotEmpty, cairn.IsDir, cairn.NotDir, cairn.LeaseConflict:
		return codes.FailedPrecondition
	case cairn.NotLeader, cairn.Unavailable:
		return codes.Unavailable
	case cairn.NoSpace, cairn.NotReplicated:
		return codes.ResourceExhausted
	case cairn.Internal:
		return codes.Internal
	}
	if errors.Is(err, context.Canceled) {
		return codes.Canceled
	}
	return codes.Unknown
}
