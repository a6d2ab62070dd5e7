package datanode

import "github.com/cairn-fs/cairn"

// Step names a point in one of the DataNode's state changes at which
// Config.StepHook is called. The steps of the replica moves are the
// boundaries between their disk operations (see doc.go, "Moving a
// replica"), so that a test can stop the process at each one.
type Step string

// The steps at which Config.StepHook is called.
const (
	// Finalizing a replica (rbw/ to finalized/).
	StepFinalizeSynced     Step = "finalize-synced"      // finalize: data and meta fsync'd, nothing moved
	StepFinalizeOldRemoved Step = "finalize-old-removed" // finalize: the superseded finalized replica removed
	StepFinalizeMetaMoved  Step = "finalize-meta-moved"  // finalize: meta file renamed into finalized/
	StepFinalizeDataMoved  Step = "finalize-data-moved"  // finalize: data file renamed into finalized/
	StepFinalizeDone       Step = "finalize-done"        // finalize: both directories fsync'd

	// Finalizing a small replica into its volume's container store.
	StepPackAppend   Step = "pack-append"   // finalizeSmall: before its record is appended
	StepPackAppended Step = "pack-appended" // finalizeSmall: its record fsync'd, not yet in the replica map

	// Moving a finalized replica back to rbw/ for a pipeline recovery.
	StepUnfinalizeStart     Step = "unfinalize-start"      // unfinalize: nothing moved
	StepUnfinalizeMetaMoved Step = "unfinalize-meta-moved" // unfinalize: meta file renamed into rbw/
	StepUnfinalizeDataMoved Step = "unfinalize-data-moved" // unfinalize: data file renamed into rbw/
	StepUnfinalizeDone      Step = "unfinalize-done"       // unfinalize: both directories fsync'd

	// Making a replica idle after a failed pipeline, or keeping a copy
	// received by TRANSFER_RBW: before its files are cut and fsync'd.
	// An error returned here is a failure of that fsync.
	StepSettle Step = "settle" // settle: before cutting and fsyncing an rbw replica

	// Lease recovery giving a finalized replica its new generation
	// stamp: before and after its meta file is renamed.
	StepRecoveryStamp   Step = "recovery-stamp"   // recovery: before renaming a finalized replica's meta file
	StepRecoveryStamped Step = "recovery-stamped" // recovery: finalized replica's meta file renamed

	// A state change of a replica waits for another one of the same
	// block to end (the block is claimed).
	StepBlockWait Step = "block-wait" // a replica state change waits for the block

	// Commands of heartbeat replies, called from the heartbeat loop: a
	// command run (its id not seen before; b is its first block), one
	// refused as not the leader's (b is its first block), a
	// COPY_BLOCKS copy started (one not already under way), a block
	// recovery started as the primary (b's generation stamp is the
	// recovery's new one).
	StepCommandRun     Step = "command-run"     // a command from a heartbeat reply is run
	StepCommandRefused Step = "command-refused" // a command from a heartbeat reply is refused, its NameNode not leading
	StepCopyStart      Step = "copy-start"      // a COPY_BLOCKS copy starts
	StepRecoveryStart  Step = "recovery-start"  // a block recovery starts, as its primary

	// Block reports: a full report built (its snapshot taken) and not
	// yet sent; an incremental report waiting for a full one to be
	// sent first.
	StepFullReportBuilt        Step = "full-report-built"        // full block report built, not yet sent
	StepIncrementalReportWaits Step = "incremental-report-waits" // incremental block report waits for a full one
)

// hook calls the step hook, if any. Its error is treated as a failure
// of the disk operation at that step, where there is one.
func (s *store) hook(step Step, b cairn.Block) error {
	if s.stepHook == nil {
		return nil
	}
	return s.stepHook(step, b)
}
