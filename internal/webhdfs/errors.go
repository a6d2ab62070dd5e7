package webhdfs

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/cairn-fs/cairn"
)

// Exception is a WebHDFS error: the Java exception Hadoop would throw
// and the HTTP status its ExceptionHandler answers it with. It is
// written as {"RemoteException": {"exception", "javaClassName",
// "message"}}.
type Exception struct {
	Status  int    // HTTP status
	Name    string // "FileNotFoundException"
	Class   string // "java.io.FileNotFoundException"
	Message string
}

func (e *Exception) Error() string { return e.Name + ": " + e.Message }

// The exceptions, by the cairn kind they stand for. Hadoop's
// ExceptionHandler answers SecurityException with 401,
// FileNotFoundException with 404, any other IOException (among them
// AccessControlException and FileAlreadyExistsException) with 403,
// IllegalArgumentException and UnsupportedOperationException with 400,
// anything else with 500.
var (
	exFileNotFound    = exception{404, "FileNotFoundException", "java.io.FileNotFoundException"}
	exAlreadyExists   = exception{403, "FileAlreadyExistsException", "org.apache.hadoop.fs.FileAlreadyExistsException"}
	exIllegalArgument = exception{400, "IllegalArgumentException", "java.lang.IllegalArgumentException"}
	exUnsupported     = exception{400, "UnsupportedOperationException", "java.lang.UnsupportedOperationException"}
	exAccessControl   = exception{403, "AccessControlException", "org.apache.hadoop.security.AccessControlException"}
	exSecurity        = exception{401, "SecurityException", "java.lang.SecurityException"}
	exIO              = exception{403, "IOException", "java.io.IOException"}
	exNotEmpty        = exception{403, "PathIsNotEmptyDirectoryException", "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"}
	exParentNotDir    = exception{403, "ParentNotDirectoryException", "org.apache.hadoop.fs.ParentNotDirectoryException"}
	exBeingCreated    = exception{403, "AlreadyBeingCreatedException", "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"}
	exSafeMode        = exception{403, "SafeModeException", "org.apache.hadoop.hdfs.server.namenode.SafeModeException"}
	exStandby         = exception{403, "StandbyException", "org.apache.hadoop.ipc.StandbyException"}
	exChecksum        = exception{403, "ChecksumException", "org.apache.hadoop.fs.ChecksumException"}
	exEOF             = exception{403, "EOFException", "java.io.EOFException"}
	exRuntime         = exception{500, "RuntimeException", "java.lang.RuntimeException"}
	exAuthorization   = exception{403, "AuthorizationException", "org.apache.hadoop.security.authorize.AuthorizationException"}
)

type exception struct {
	status      int
	name, class string
}

func (x exception) with(msg string) *Exception {
	return &Exception{Status: x.status, Name: x.name, Class: x.class, Message: msg}
}

// toException turns an error of the client (a *cairn.Error) into the
// exception Hadoop throws in its place.
func toException(err error) *Exception {
	var ex *Exception
	if errors.As(err, &ex) {
		return ex
	}
	msg := err.Error()
	switch cairn.KindOf(err) {
	case cairn.NotExist:
		return exFileNotFound.with(msg)
	case cairn.Exist:
		return exAlreadyExists.with(msg)
	case cairn.Invalid:
		return exIllegalArgument.with(msg)
	case cairn.Permission:
		return exAccessControl.with(msg)
	case cairn.Unauthenticated:
		return exSecurity.with(msg)
	case cairn.NotEmpty:
		return exNotEmpty.with(msg)
	case cairn.NotDir:
		return exParentNotDir.with(msg)
	case cairn.LeaseConflict:
		return exBeingCreated.with(msg)
	case cairn.SafeMode:
		return exSafeMode.with(msg)
	case cairn.NotLeader:
		return exStandby.with(msg)
	case cairn.Corrupt:
		return exChecksum.with(msg)
	case cairn.Internal:
		return exRuntime.with(msg)
	}
	// IsDir, Unavailable, NoSpace, NotReplicated, IO, Closed, Unknown,
	// Other: an IOException.
	return exIO.with(msg)
}

// remoteException is the JSON body of an error.
type remoteException struct {
	RemoteException struct {
		Exception     string `json:"exception"`
		JavaClassName string `json:"javaClassName"`
		Message       string `json:"message"`
	} `json:"RemoteException"`
}

// writeError answers err as Hadoop does: its status and a
// RemoteException.
func writeError(w http.ResponseWriter, err error) {
	ex := toException(err)
	var body remoteException
	body.RemoteException.Exception = ex.Name
	body.RemoteException.JavaClassName = ex.Class
	body.RemoteException.Message = ex.Message
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Del("Location")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(ex.Status)
	w.Write(b)
}
