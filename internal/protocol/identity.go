package protocol

// gRPC metadata keys of the caller's identity. The client sends them
// with every ClientProtocol call (client.AsUser, or the client's own
// user); a server reads them with metadata.FromIncomingContext. They are
// claims, not proof: nothing authenticates them yet.
const (
	// MetadataUser is the user a call is made for.
	MetadataUser = "cairn-user"
	// MetadataGroups are the user's groups, comma-separated; absent
	// when none are claimed.
	MetadataGroups = "cairn-groups"
)
