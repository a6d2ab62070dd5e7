// Package webui serves the operator's web pages of a NameNode and of a
// DataNode, and the JSON endpoints behind them. Pages are rendered on
// the server with html/template from embedded files (embed.FS), so
// 'go build' needs no build step; a small script (assets/app.js)
// fetches the JSON endpoints every few seconds and updates the page in
// place, without a full reload.
//
// The package declares what it needs of a node as small interfaces
// (NameNode, DataNode) of plain types defined here; the namenode and
// datanode packages adapt to them and mount the handlers.
//
// # NameNode pages
//
//	/                  overview: cluster, capacity, block health, nodes, Raft
//	/datanodes         the DataNodes, sortable; dead ones stand out
//	/browse?path=P     a directory's entries, or a file with its blocks
//	/download?path=P   redirects (307) to a DataNode holding the file's
//	                   first block, which streams the whole file
//
// # NameNode JSON endpoints
//
// Every endpoint answers GET with application/json; errors are
// {"error": "...", "kind": "..."} with status 400 (invalid path), 404
// (no such file) or 500.
//
//	/api/overview      Overview: clusterID, version, startTime,
//	                   uptimeSeconds, safeMode, safeModeReason, raftState,
//	                   raftLeader, capacityBytes, usedBytes,
//	                   remainingBytes, files, directories, blocks,
//	                   underReplicatedBlocks, corruptBlocks, missingBlocks,
//	                   pendingReplicationBlocks, pendingDeletionBlocks,
//	                   liveDatanodes, staleDatanodes, deadDatanodes,
//	                   decommissioningDatanodes, decommissionedDatanodes
//	/api/datanodes     {"datanodes": [DataNodeRow]}: id, addr, httpAddr,
//	                   state (live, stale, dead, decommissioning,
//	                   decommissioned), lastHeartbeat,
//	                   heartbeatAgeSeconds, capacityBytes, usedBytes,
//	                   remainingBytes, blocks, failedVolumes,
//	                   activeTransfers
//	/api/list?path=P   Listing: path, entries [Entry], truncated
//	/api/file?path=P   File: the Entry fields and blocks [Block]: id,
//	                   genStamp, offset, length, locations [Location]:
//	                   id, addr, httpAddr
//
// An Entry is path, name, isDir, size, replication, blockSize, owner,
// group, mode ("-rw-r--r--"), modTime (RFC 3339), underConstruction,
// children.
//
// # DataNode pages and endpoints
//
//	/                  the DataNode: volumes, blocks, transfers, last scan
//	/api/status        DataNodeStatus: id, clusterID, addr, namenode,
//	                   namenodeState, volumes [Volume: dir, failed,
//	                   capacityBytes, remainingBytes], blocks, usedBytes,
//	                   activeTransfers, lastScan, startTime
//	/download?path=P   the file's bytes: each block from the node's own
//	                   replica where it holds one, else from another
//	                   DataNode; or, when it holds no replica of the
//	                   first block, a redirect (307) to a DataNode that
//	                   does, with &redirected=1 (a redirected request is
//	                   always served, never sent on again)
//
// /healthz, /readyz and /metrics are mounted beside these by the node
// packages.
package webui
