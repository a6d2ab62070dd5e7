package webhdfs

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/cairn-fs/cairn"
)

// The JSON bodies, with Hadoop's field names and types (JsonUtil).
// Fields are declared in alphabetical order, the order Hadoop writes
// them in (its maps are TreeMaps).

// FileStatus is Hadoop's FileStatus JSON object.
type FileStatus struct {
	AccessTime       int64  `json:"accessTime"`
	BlockSize        int64  `json:"blockSize"`
	ChildrenNum      int    `json:"childrenNum"`
	FileID           uint64 `json:"fileId"`
	Group            string `json:"group"`
	Length           int64  `json:"length"`
	ModificationTime int64  `json:"modificationTime"`
	Owner            string `json:"owner"`
	PathSuffix       string `json:"pathSuffix"`
	Permission       string `json:"permission"`
	Replication      int    `json:"replication"`
	StoragePolicy    int    `json:"storagePolicy"`
	Type             string `json:"type"`
}

// fileStatus converts a cairn FileInfo; suffix is the pathSuffix: ""
// for GETFILESTATUS, the entry's name in a listing.
//
// cairn keeps no access times: accessTime is the modification time of
// a file (as HDFS sets it at creation) and 0 for a directory (as HDFS
// has it).
func fileStatus(fi cairn.FileInfo, suffix string) FileStatus {
	ms := fi.ModTime.UnixMilli()
	st := FileStatus{
		ChildrenNum:      fi.Children,
		FileID:           fi.FileID,
		Group:            fi.Group,
		ModificationTime: ms,
		Owner:            fi.Owner,
		PathSuffix:       suffix,
		Permission:       permString(fi),
		Type:             "DIRECTORY",
	}
	if !fi.IsDir {
		st.Type = "FILE"
		st.AccessTime = ms
		st.BlockSize = fi.BlockSize
		st.Length = fi.Size
		st.Replication = fi.Replication
		st.ChildrenNum = 0
	}
	return st
}

// permString is a permission as Hadoop writes it: octal, without
// leading zeros ("644"). cairn keeps no sticky bit.
func permString(fi cairn.FileInfo) string {
	return strconv.FormatUint(uint64(fi.Mode.Perm()), 8)
}

type fileStatusBody struct {
	FileStatus FileStatus `json:"FileStatus"`
}

type fileStatuses struct {
	FileStatus []FileStatus `json:"FileStatus"`
}

type fileStatusesBody struct {
	FileStatuses fileStatuses `json:"FileStatuses"`
}

type directoryListingBody struct {
	DirectoryListing struct {
		PartialListing struct {
			FileStatuses fileStatuses `json:"FileStatuses"`
		} `json:"partialListing"`
		RemainingEntries int `json:"remainingEntries"`
	} `json:"DirectoryListing"`
}

// ContentSummary is Hadoop's ContentSummary JSON object. cairn has no
// quotas: quota and spaceQuota are -1, typeQuota is empty.
type ContentSummary struct {
	DirectoryCount int64          `json:"directoryCount"`
	FileCount      int64          `json:"fileCount"`
	Length         int64          `json:"length"`
	Quota          int64          `json:"quota"`
	SpaceConsumed  int64          `json:"spaceConsumed"`
	SpaceQuota     int64          `json:"spaceQuota"`
	TypeQuota      map[string]any `json:"typeQuota"`
}

type contentSummaryBody struct {
	ContentSummary ContentSummary `json:"ContentSummary"`
}

// FileChecksum is Hadoop's FileChecksum JSON object: bytes in hex.
type FileChecksum struct {
	Algorithm string `json:"algorithm"`
	Bytes     string `json:"bytes"`
	Length    int    `json:"length"`
}

type fileChecksumBody struct {
	FileChecksum FileChecksum `json:"FileChecksum"`
}

// BlockLocation is Hadoop's BlockLocation JSON object.
type BlockLocation struct {
	CachedHosts   []string `json:"cachedHosts"`
	Corrupt       bool     `json:"corrupt"`
	Hosts         []string `json:"hosts"`
	Length        int64    `json:"length"`
	Names         []string `json:"names"`
	Offset        int64    `json:"offset"`
	StorageTypes  []string `json:"storageTypes"`
	TopologyPaths []string `json:"topologyPaths"`
}

type blockLocationsBody struct {
	BlockLocations struct {
		BlockLocation []BlockLocation `json:"BlockLocation"`
	} `json:"BlockLocations"`
}

type booleanBody struct {
	Boolean bool `json:"boolean"`
}

type pathBody struct {
	Path string `json:"Path"`
}

type locationBody struct {
	Location string `json:"Location"`
}

// XAttr is one extended attribute; Value is encoded as the request's
// encoding says (XAttrCodec).
type XAttr struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type xattrsBody struct {
	XAttrs []XAttr `json:"XAttrs"`
}

// xattrNamesBody holds a JSON array in a JSON string, as Hadoop does.
type xattrNamesBody struct {
	XAttrNames string `json:"XAttrNames"`
}

// ServerDefaults is Hadoop's FsServerDefaults JSON object.
type ServerDefaults struct {
	BlockSize              int64  `json:"blockSize"`
	BytesPerChecksum       int    `json:"bytesPerChecksum"`
	ChecksumType           int    `json:"checksumType"` // 2: CRC32C
	DefaultStoragePolicyID int    `json:"defaultStoragePolicyId"`
	EncryptDataTransfer    bool   `json:"encryptDataTransfer"`
	FileBufferSize         int    `json:"fileBufferSize"`
	KeyProviderURI         string `json:"keyProviderUri"`
	Replication            int    `json:"replication"`
	TrashInterval          int64  `json:"trashInterval"`
	WritePacketSize        int    `json:"writePacketSize"`
}

type serverDefaultsBody struct {
	FsServerDefaults ServerDefaults `json:"FsServerDefaults"`
}

// writeJSON answers 200 with v.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, exRuntime.with(err.Error()))
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// writeEmpty answers 200 with no body, as Hadoop's SETPERMISSION and
// the like do.
func writeEmpty(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// encodeXAttrValue encodes a value as Hadoop's XAttrCodec does: text in
// double quotes (the default), hex with "0x", base64 with "0s".
func encodeXAttrValue(v []byte, encoding string) string {
	switch encoding {
	case "hex":
		return "0x" + hex.EncodeToString(v)
	case "base64":
		return "0s" + base64.StdEncoding.EncodeToString(v)
	}
	return `"` + string(v) + `"`
}

// decodeXAttrValue decodes a value as XAttrCodec does: "..." is text,
// 0x... hex, 0s... base64, anything else the text itself.
func decodeXAttrValue(s string) ([]byte, error) {
	switch {
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		return []byte(s[1 : len(s)-1]), nil
	case len(s) >= 2 && (strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X")):
		b, err := hex.DecodeString(s[2:])
		if err != nil {
			return nil, errors.New("bad hex value")
		}
		return b, nil
	case len(s) >= 2 && (strings.HasPrefix(s, "0s") || strings.HasPrefix(s, "0S")):
		b, err := base64.StdEncoding.DecodeString(s[2:])
		if err != nil {
			return nil, errors.New("bad base64 value")
		}
		return b, nil
	}
	return []byte(s), nil
}
