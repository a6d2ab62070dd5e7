package cairn

// CommandType is the kind of an order the NameNode gives a DataNode in
// a heartbeat reply. The values are those of the wire enum.
type CommandType int

// Orders to DataNodes.
const (
	CommandDeleteBlocks CommandType = 1 // delete Blocks
	CommandCopyBlocks   CommandType = 2 // copy Blocks to Targets (the replication monitor sends one block per command)
	CommandReregister   CommandType = 3 // register and send a full block report again
	CommandRecoverBlock CommandType = 4 // synchronize the last block of a file under lease recovery, as the primary
)

// Command is an order from the NameNode to a DataNode.
type Command struct {
	// ID is unique among the commands sent to the node, which
	// acknowledges it in a later heartbeat; 0 for REREGISTER, which is
	// never acknowledged.
	ID          uint64
	Type        CommandType
	Blocks      []Block
	Targets     []DatanodeInfo
	NewGenStamp GenStamp
	// Term is the Raft term of the leader that issued the command; a
	// DataNode refuses a command of an older term than the newest it
	// has seen. 0: not said.
	Term uint64
}
