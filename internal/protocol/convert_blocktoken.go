package protocol

import (
	"time"

	"github.com/cairn-fs/cairn/internal/blocktoken"
)

// BlockKeysToProto converts a NameNode member's block keys.
func BlockKeysToProto(keys []blocktoken.Key) []*BlockKey {
	out := make([]*BlockKey, len(keys))
	for i, k := range keys {
		out[i] = &BlockKey{Id: k.ID, Secret: k.Secret, ExpiryUnixMs: k.Expiry.UnixMilli()}
	}
	return out
}

// BlockKeysFromProto converts wire block keys.
func BlockKeysFromProto(keys []*BlockKey) []blocktoken.Key {
	out := make([]blocktoken.Key, 0, len(keys))
	for _, k := range keys {
		if k == nil {
			continue
		}
		out = append(out, blocktoken.Key{ID: k.Id, Secret: k.Secret, Expiry: time.UnixMilli(k.ExpiryUnixMs)})
	}
	return out
}
