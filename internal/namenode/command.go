package namenode

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/token"
)

// opcode names a log command. The numbers are part of the on-disk log
// format (see doc.go): add new ones at the end, never renumber.
type opcode uint8

const (
	opInvalid         opcode = iota
	opMkdirs                 // path, mode, owner, group, mtime, flags(parents)
	opCreate                 // path, mode, owner, group, mtime, replication, blockSize, clientName, flags(overwrite, createParent, touch)
	opAddBlock               // fileID, clientName, block(previous, if flagHasBlock), mtime, targets
	opComplete               // fileID, clientName, block(last, if flagHasBlock), mtime
	opAbandonBlock           // fileID, clientName, block
	opRename                 // path, path2, mtime, flags(overwrite, exact)
	opDelete                 // path, mtime, flags(recursive)
	opSetReplication         // path, replication, flags(recursive)
	opSetPermission          // path, mode
	opSetOwner               // path, owner, group
	opSetTimes               // path, mtime
	opCloseFile              // fileID, clientName, block(last block: ID, GenStamp, Len; if flagHasBlock; flagDropLast drops it), mtime, targets, flags(removeFile)
	opSetNodeAdmin           // targets(one node ID), flags(decommission)
	opNewGenStamp            // fileID, [clientName], block(last block: ID, current GenStamp), flags(leaseRecovery): allocates a generation stamp
	opUpdatePipeline         // fileID, clientName, block(last block: ID, new GenStamp), targets
	opFsync                  // fileID, clientName, block(last block: ID, GenStamp, Len synced)
	opSetXAttr               // path, xattrs(name, value), flags(xattrCreate, xattrReplace)
	opRemoveXAttr            // path, xattrs(names)
	opConcat                 // path(target), paths(sources, in order), mtime
	opTokenKey               // keyID, secret, mtime(created), expires: a new token signing key (tokens.go)
	opTokenPurge             // mtime: drops the token keys and revocations expired by then
	opRevokeToken            // tokenID, expires(the token's expiry)
	opCreateWithBlock        // create's fields and targets: a create that also allocates the file's first block
	opMax
)

var opNames = [...]string{
	opInvalid:         "invalid",
	opMkdirs:          "mkdirs",
	opCreate:          "create",
	opAddBlock:        "addBlock",
	opComplete:        "complete",
	opAbandonBlock:    "abandonBlock",
	opRename:          "rename",
	opDelete:          "delete",
	opSetReplication:  "setReplication",
	opSetPermission:   "setPermission",
	opSetOwner:        "setOwner",
	opSetTimes:        "setTimes",
	opCloseFile:       "closeFile",
	opSetNodeAdmin:    "setNodeAdmin",
	opNewGenStamp:     "newGenStamp",
	opUpdatePipeline:  "updatePipeline",
	opFsync:           "fsync",
	opSetXAttr:        "setXAttr",
	opRemoveXAttr:     "removeXAttr",
	opConcat:          "concat",
	opTokenKey:        "tokenKey",
	opTokenPurge:      "tokenPurge",
	opRevokeToken:     "revokeToken",
	opCreateWithBlock: "createWithBlock",
}

func (o opcode) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Command flags.
const (
	flagOverwrite uint64 = 1 << iota
	flagCreateParent
	flagParents
	flagRecursive
	flagTouch
	flagHasBlock
	flagDropLast
	flagDecommission
	flagExact // rename: path2 is the final path, never a directory to move into
)

// Command flags with explicit bits (1<<8 is left to the next flag of
// the list above).
const (
	// flagLeaseRecovery: newGenStamp of a block synchronization by lease
	// recovery; the file's lease passes to leaseRecoveryHolder.
	flagLeaseRecovery uint64 = 1 << 9
	// flagRemoveFile: closeFile of a put's abandoned temporary; the
	// file is removed once closed.
	flagRemoveFile uint64 = 1 << 10
)

// command is one mutation of the namespace, as logged. Each opcode uses
// a subset of the fields; unused fields are zero and take no space in
// the encoding.
type command struct {
	op          opcode
	path        string
	path2       string
	clientName  string
	owner       string
	group       string
	mode        uint32
	mtime       int64 // unix nanoseconds, chosen by the leader
	replication int32
	blockSize   int64
	fileID      uint64
	flags       uint64
	block       cairn.Block
	targets     []cairn.NodeID
	// caller is who the change is made for (the identity of the
	// request, set by mutate), so that permission checks and audit can
	// run where the change is applied; empty for the NameNode's own
	// changes (lease recovery, healing) and callers that name no one.
	caller       string
	callerGroups []string
	// rpcClient and rpcCall name the client call the change was made
	// for (protocol.MetadataClientID, MetadataCallID), for the retry
	// cache (retrycache.go); empty and 0 for changes of the NameNode's
	// own and of clients that send none.
	rpcClient string
	rpcCall   uint64
	// xattrs are the extended attributes a setXAttr sets (names
	// normalized, sorted) or the names a removeXAttr removes.
	xattrs []xattr
	// paths are more paths the command names after path: concat's
	// sources, in order.
	paths []string
	// keyID, secret and expires are a token signing key's (opTokenKey);
	// tokenID and expires a revoked token's (opRevokeToken). The secret
	// is never logged nor shown.
	keyID   uint64
	secret  string
	expires int64 // unix nanoseconds
	tokenID token.ID
}

// Field numbers: bit i of the presence mask says field i follows. The
// order is part of the format.
const (
	fPath = iota
	fPath2
	fClientName
	fOwner
	fGroup
	fMode
	fMtime
	fReplication
	fBlockSize
	fFileID
	fFlags
	fBlockID
	fBlockGenStamp
	fBlockLen
	fTargets
	fCaller
	fCallerGroups
	fRPCClient
	fRPCCall
	fXAttrs
	fPaths
	fKeyID
	fSecret
	fExpires
	fTokenID
)

// commandVersion is the first byte of every encoded command.
const commandVersion = 1

// encode appends the command's encoding to b.
func (c *command) encode(b []byte) []byte {
	var mask uint64
	set := func(f int, ok bool) {
		if ok {
			mask |= 1 << f
		}
	}
	set(fPath, c.path != "")
	set(fPath2, c.path2 != "")
	set(fClientName, c.clientName != "")
	set(fOwner, c.owner != "")
	set(fGroup, c.group != "")
	set(fMode, c.mode != 0)
	set(fMtime, c.mtime != 0)
	set(fReplication, c.replication != 0)
	set(fBlockSize, c.blockSize != 0)
	set(fFileID, c.fileID != 0)
	set(fFlags, c.flags != 0)
	set(fBlockID, c.block.ID != 0)
	set(fBlockGenStamp, c.block.GenStamp != 0)
	set(fBlockLen, c.block.Len != 0)
	set(fTargets, len(c.targets) != 0)
	set(fCaller, c.caller != "")
	set(fCallerGroups, len(c.callerGroups) != 0)
	set(fRPCClient, c.rpcClient != "")
	set(fRPCCall, c.rpcCall != 0)
	set(fXAttrs, len(c.xattrs) != 0)
	set(fPaths, len(c.paths) != 0)
	set(fKeyID, c.keyID != 0)
	set(fSecret, c.secret != "")
	set(fExpires, c.expires != 0)
	set(fTokenID, c.tokenID != token.ID{})

	b = append(b, commandVersion, byte(c.op))
	b = binary.AppendUvarint(b, mask)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if mask&(1<<fPath) != 0 {
		str(c.path)
	}
	if mask&(1<<fPath2) != 0 {
		str(c.path2)
	}
	if mask&(1<<fClientName) != 0 {
		str(c.clientName)
	}
	if mask&(1<<fOwner) != 0 {
		str(c.owner)
	}
	if mask&(1<<fGroup) != 0 {
		str(c.group)
	}
	if mask&(1<<fMode) != 0 {
		b = binary.AppendUvarint(b, uint64(c.mode))
	}
	if mask&(1<<fMtime) != 0 {
		b = binary.AppendVarint(b, c.mtime)
	}
	if mask&(1<<fReplication) != 0 {
		b = binary.AppendVarint(b, int64(c.replication))
	}
	if mask&(1<<fBlockSize) != 0 {
		b = binary.AppendVarint(b, c.blockSize)
	}
	if mask&(1<<fFileID) != 0 {
		b = binary.AppendUvarint(b, c.fileID)
	}
	if mask&(1<<fFlags) != 0 {
		b = binary.AppendUvarint(b, c.flags)
	}
	if mask&(1<<fBlockID) != 0 {
		b = binary.AppendUvarint(b, uint64(c.block.ID))
	}
	if mask&(1<<fBlockGenStamp) != 0 {
		b = binary.AppendUvarint(b, uint64(c.block.GenStamp))
	}
	if mask&(1<<fBlockLen) != 0 {
		b = binary.AppendVarint(b, c.block.Len)
	}
	if mask&(1<<fTargets) != 0 {
		b = binary.AppendUvarint(b, uint64(len(c.targets)))
		for _, t := range c.targets {
			str(string(t))
		}
	}
	if mask&(1<<fCaller) != 0 {
		str(c.caller)
	}
	if mask&(1<<fCallerGroups) != 0 {
		b = binary.AppendUvarint(b, uint64(len(c.callerGroups)))
		for _, g := range c.callerGroups {
			str(g)
		}
	}
	if mask&(1<<fRPCClient) != 0 {
		str(c.rpcClient)
	}
	if mask&(1<<fRPCCall) != 0 {
		b = binary.AppendUvarint(b, c.rpcCall)
	}
	if mask&(1<<fXAttrs) != 0 {
		b = binary.AppendUvarint(b, uint64(len(c.xattrs)))
		for _, x := range c.xattrs {
			str(x.name)
			str(x.value)
		}
	}
	if mask&(1<<fPaths) != 0 {
		b = binary.AppendUvarint(b, uint64(len(c.paths)))
		for _, p := range c.paths {
			str(p)
		}
	}
	if mask&(1<<fKeyID) != 0 {
		b = binary.AppendUvarint(b, c.keyID)
	}
	if mask&(1<<fSecret) != 0 {
		str(c.secret)
	}
	if mask&(1<<fExpires) != 0 {
		b = binary.AppendVarint(b, c.expires)
	}
	if mask&(1<<fTokenID) != 0 {
		b = append(b, c.tokenID[:]...)
	}
	return b
}

var errShortCommand = errors.New("truncated command")

// decoder reads the primitive values of the log and snapshot formats.
// The first error sticks; later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail(errShortCommand)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShortCommand)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShortCommand)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errShortCommand)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// decodeCommand parses one encoded command.
func decodeCommand(b []byte) (command, error) {
	d := decoder{b: b}
	var c command
	if v := d.byte(); d.err == nil && v != commandVersion {
		return c, fmt.Errorf("unknown command version %d", v)
	}
	c.op = opcode(d.byte())
	if d.err == nil && (c.op == opInvalid || c.op >= opMax) {
		return c, fmt.Errorf("unknown command opcode %d", c.op)
	}
	mask := d.uvarint()
	if mask>>(fTokenID+1) != 0 {
		return c, fmt.Errorf("unknown command fields %#x", mask)
	}
	has := func(f int) bool { return mask&(1<<f) != 0 }
	if has(fPath) {
		c.path = d.str()
	}
	if has(fPath2) {
		c.path2 = d.str()
	}
	if has(fClientName) {
		c.clientName = d.str()
	}
	if has(fOwner) {
		c.owner = d.str()
	}
	if has(fGroup) {
		c.group = d.str()
	}
	if has(fMode) {
		c.mode = uint32(d.uvarint())
	}
	if has(fMtime) {
		c.mtime = d.varint()
	}
	if has(fReplication) {
		c.replication = int32(d.varint())
	}
	if has(fBlockSize) {
		c.blockSize = d.varint()
	}
	if has(fFileID) {
		c.fileID = d.uvarint()
	}
	if has(fFlags) {
		c.flags = d.uvarint()
	}
	if has(fBlockID) {
		c.block.ID = cairn.BlockID(d.uvarint())
	}
	if has(fBlockGenStamp) {
		c.block.GenStamp = cairn.GenStamp(d.uvarint())
	}
	if has(fBlockLen) {
		c.block.Len = d.varint()
	}
	if has(fTargets) {
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			d.fail(errShortCommand)
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			c.targets = append(c.targets, cairn.NodeID(d.str()))
		}
	}
	if has(fCaller) {
		c.caller = d.str()
	}
	if has(fCallerGroups) {
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			d.fail(errShortCommand)
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			c.callerGroups = append(c.callerGroups, d.str())
		}
	}
	if has(fRPCClient) {
		c.rpcClient = d.str()
	}
	if has(fRPCCall) {
		c.rpcCall = d.uvarint()
	}
	if has(fXAttrs) {
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			d.fail(errShortCommand)
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			name := d.str()
			c.xattrs = append(c.xattrs, xattr{name: name, value: d.str()})
		}
	}
	if has(fPaths) {
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			d.fail(errShortCommand)
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			c.paths = append(c.paths, d.str())
		}
	}
	if has(fKeyID) {
		c.keyID = d.uvarint()
	}
	if has(fSecret) {
		c.secret = d.str()
	}
	if has(fExpires) {
		c.expires = d.varint()
	}
	if has(fTokenID) {
		for i := range c.tokenID {
			c.tokenID[i] = d.byte()
		}
	}
	if d.err != nil {
		return c, d.err
	}
	if len(d.b) != 0 {
		return c, fmt.Errorf("%d trailing bytes after command", len(d.b))
	}
	return c, nil
}
