package namenode

import (
	"context"

	"github.com/cairn-fs/cairn"
	"github.com/cairn-fs/cairn/internal/blocktoken"
)

// Block access tokens (package blocktoken). In secure mode every block
// a client is given comes with a token for it, signed with this
// member's newest key; the DataNodes learn the keys from the answers
// to their Register and Heartbeat calls. The keys are this member's
// own, not replicated: each member signs with its keys, and a DataNode
// keeps the keys of every member it talks to.

// blockToken returns a token for block id granting modes to the caller
// of ctx; nil outside secure mode.
func (s *Server) blockToken(ctx context.Context, id cairn.BlockID, modes blocktoken.Mode) []byte {
	if s.blockKeys == nil {
		return nil
	}
	user := ""
	if c, ok := CallerFrom(ctx); ok {
		user = c.User
	}
	return s.blockKeys.Generate(user, string(s.clusterID), uint64(id), modes)
}

// withBlockTokens gives each of blocks a token granting modes to the
// caller of ctx; it does nothing outside secure mode.
func (s *Server) withBlockTokens(ctx context.Context, blocks []cairn.LocatedBlock, modes blocktoken.Mode) {
	if s.blockKeys == nil {
		return
	}
	for i := range blocks {
		blocks[i].Token = s.blockToken(ctx, blocks[i].Block.ID, modes)
	}
}

// BlockKeys returns the keys a DataNode needs to verify the tokens
// this member signed: every key not expired. nil outside secure mode.
func (s *Server) BlockKeys() []blocktoken.Key {
	if s.blockKeys == nil {
		return nil
	}
	return s.blockKeys.Keys()
}
