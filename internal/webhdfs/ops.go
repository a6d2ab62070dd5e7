package webhdfs

import (
	"fmt"
	"net/http"
	"strings"
)

// Hadoop's operations, by HTTP method (GetOpParam.Op, PutOpParam.Op,
// PostOpParam.Op, DeleteOpParam.Op). An op that is not among its
// method's is an IllegalArgumentException, as in Hadoop; one that is
// but that cairn does not serve is an UnsupportedOperationException.
var hadoopOps = map[string]struct {
	enum string
	ops  []string
}{
	http.MethodGet: {"GetOpParam", []string{
		"OPEN", "GETFILESTATUS", "LISTSTATUS", "GETCONTENTSUMMARY", "GETQUOTAUSAGE",
		"GETFILECHECKSUM", "GETHOMEDIRECTORY", "GETDELEGATIONTOKEN", "GETTRASHROOT",
		"GETXATTRS", "LISTXATTRS", "GETACLSTATUS", "CHECKACCESS", "LISTSTATUS_BATCH",
		"GETALLSTORAGEPOLICY", "GETSTORAGEPOLICY", "GETSNAPSHOTDIFF", "GETSNAPSHOTDIFFLISTING",
		"GETSNAPSHOTTABLEDIRECTORYLIST", "GETSNAPSHOTLIST", "GETFILEBLOCKLOCATIONS",
		"GET_BLOCK_LOCATIONS", "GETSERVERDEFAULTS", "GETECPOLICY", "GETECPOLICIES",
		"GETECCODECS", "GETSTATUS", "GETTRASHROOTS", "GETLINKTARGET", "GETFILELINKSTATUS", "NULL",
	}},
	http.MethodPut: {"PutOpParam", []string{
		"CREATE", "MKDIRS", "CREATESYMLINK", "RENAME", "SETREPLICATION", "SETOWNER",
		"SETPERMISSION", "SETTIMES", "RENEWDELEGATIONTOKEN", "CANCELDELEGATIONTOKEN",
		"MODIFYACLENTRIES", "REMOVEACLENTRIES", "REMOVEDEFAULTACL", "REMOVEACL", "SETACL",
		"SETXATTR", "REMOVEXATTR", "ENABLEECPOLICY", "DISABLEECPOLICY", "SETECPOLICY",
		"ALLOWSNAPSHOT", "DISALLOWSNAPSHOT", "CREATESNAPSHOT", "RENAMESNAPSHOT",
		"SETSTORAGEPOLICY", "SATISFYSTORAGEPOLICY", "SETQUOTA", "SETQUOTABYSTORAGETYPE", "NULL",
	}},
	http.MethodPost: {"PostOpParam", []string{
		"APPEND", "CONCAT", "TRUNCATE", "UNSETSTORAGEPOLICY", "UNSETECPOLICY", "NULL",
	}},
	http.MethodDelete: {"DeleteOpParam", []string{
		"DELETE", "DELETESNAPSHOT", "NULL",
	}},
}

// checkOp says whether op is one of Hadoop's for method and, if so,
// whether served (in served, by method and op); the error is Hadoop's.
func checkOp(method, op string, served map[string]bool) error {
	m, ok := hadoopOps[method]
	if !ok {
		return &Exception{Status: http.StatusMethodNotAllowed, Name: "UnsupportedOperationException", Class: "java.lang.UnsupportedOperationException",
			Message: fmt.Sprintf("HTTP method %s is not supported by WebHDFS", method)}
	}
	known := false
	for _, o := range m.ops {
		if o == op {
			known = true
			break
		}
	}
	if !known {
		return paramError("op", op, fmt.Sprintf("No enum constant org.apache.hadoop.hdfs.web.resources.%s.Op.%s", m.enum, op))
	}
	if !served[method+" "+op] {
		return exUnsupported.with(fmt.Sprintf("%s is not supported", op))
	}
	return nil
}

// Route sends the requests under Prefix to wh and the others to other.
// It sees them before other does, so that a ServeMux does not redirect
// a path with "..", "." or "//" to a cleaned one, which WebHDFS refuses
// (400), as Hadoop does.
func Route(wh, other http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == Prefix || strings.HasPrefix(p, Prefix+"/") {
			wh.ServeHTTP(w, r)
			return
		}
		other.ServeHTTP(w, r)
	})
}
