// Package transport is the one place where cairn opens and accepts
// connections: every gRPC client and server (client → NameNode,
// DataNode → NameNode, the bench), the data-transfer protocol (a
// client's or a DataNode's dial, the pipeline forward, the DataNode's
// accept loop) and the NameNode's Raft transport take their
// connections from a Config.
//
// A Config says how connections are made: with TLS or in plaintext,
// how long a dial may take, the TCP keep-alive period. Its zero value
// is what cairn has always done: plaintext TCP, no dial bound beyond
// the caller's context, the net package's keep-alive. Securing the
// connections between nodes (mutual TLS) or between clients and
// servers (server-verified TLS), and learning who is on the other end
// of a connection, is a change of this package and of the Config a
// component is given, not of the sites that dial.
//
// The paths a connection takes:
//
//   - a gRPC client: Config.NewGRPCClient, which adds
//     Config.GRPCDialOptions (the transport credentials) before the
//     caller's own options (message sizes, reconnection backoff, the
//     service config: properties of the service, which stay with it);
//   - a gRPC server: Config.NewGRPCServer, likewise with
//     Config.GRPCServerOptions;
//   - a stream (data transfer, Raft): Config.DialContext on the dialing
//     side; on the accepting side Config.Listen for a TCP listener and
//     Config.WrapListener for the listener a server accepts from.
//
// Listeners are plain TCP: each server secures what it accepts itself
// (gRPC through its credentials, the others through WrapListener), so
// that a gRPC server can see the TLS state of its peers.
package transport
