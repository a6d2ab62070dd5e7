package fusefs

import (
	"os/user"
	"strconv"
	"sync"
)

// identities maps cairn's owner and group names to local uids and gids
// and back, as the mounting machine's user database (/etc/passwd,
// /etc/group) says. A name with no local account is shown as the
// mounting user (or group): every request reaches the NameNode as that
// user anyway. A number with no name goes to the NameNode as its
// decimal string.
type identities struct {
	uid, gid uint32 // the mounting user's

	mu    sync.Mutex // guards the maps
	uids  map[string]uint32
	gids  map[string]uint32
	users map[uint32]string
	grps  map[uint32]string
}

func newIdentities(uid, gid uint32) *identities {
	return &identities{
		uid: uid, gid: gid,
		uids: make(map[string]uint32), gids: make(map[string]uint32),
		users: make(map[uint32]string), grps: make(map[uint32]string),
	}
}

// uidOf returns the local uid of a cairn owner.
func (m *identities) uidOf(owner string) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.uids[owner]; ok {
		return id
	}
	id := m.uid
	if u, err := user.Lookup(owner); err == nil {
		if n, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
			id = uint32(n)
		}
	} else if n, err := strconv.ParseUint(owner, 10, 32); err == nil {
		id = uint32(n)
	}
	m.uids[owner] = id
	return id
}

// gidOf returns the local gid of a cairn group.
func (m *identities) gidOf(group string) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.gids[group]; ok {
		return id
	}
	id := m.gid
	if g, err := user.LookupGroup(group); err == nil {
		if n, err := strconv.ParseUint(g.Gid, 10, 32); err == nil {
			id = uint32(n)
		}
	} else if n, err := strconv.ParseUint(group, 10, 32); err == nil {
		id = uint32(n)
	}
	m.gids[group] = id
	return id
}

// userOf returns the cairn owner name of a local uid.
func (m *identities) userOf(uid uint32) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.users[uid]; ok {
		return s
	}
	s := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(s); err == nil && u.Username != "" {
		s = u.Username
	}
	m.users[uid] = s
	return s
}

// groupOf returns the cairn group name of a local gid.
func (m *identities) groupOf(gid uint32) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.grps[gid]; ok {
		return s
	}
	s := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(s); err == nil && g.Name != "" {
		s = g.Name
	}
	m.grps[gid] = s
	return s
}
