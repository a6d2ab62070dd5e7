package protocol

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cairn-fs/cairn"
)

// wire sends m through the protobuf encoding, as gRPC does.
func wire[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// allSet fails unless every field of v, in nested structs and slice
// elements too, is set: a field the sample leaves zero would cross the
// round trip whether or not it is converted.
func allSet(t *testing.T, name string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			if v.Interface().(time.Time).IsZero() {
				t.Errorf("%s is zero in the sample", name)
			}
			return
		}
		for i := range v.NumField() {
			allSet(t, name+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			t.Errorf("%s is empty in the sample", name)
		}
		for i := range v.Len() {
			allSet(t, name, v.Index(i))
		}
	default:
		if v.IsZero() {
			t.Errorf("%s is zero in the sample", name)
		}
	}
}

func roundTrip[T any, M proto.Message](t *testing.T, in T, to func(T) M, from func(M) T) {
	t.Helper()
	allSet(t, reflect.TypeOf(in).Name(), reflect.ValueOf(in))
	if got := from(wire(t, to(in))); !reflect.DeepEqual(got, in) {
		t.Errorf("round trip of %T:\n got %+v\nwant %+v", in, got, in)
	}
	var zero T
	var nilMsg M
	if got := from(nilMsg); !reflect.DeepEqual(got, zero) {
		t.Errorf("%T from a nil message = %+v, want the zero value", in, got)
	}
}

func TestReportConversionsRoundTrip(t *testing.T) {
	locs := []cairn.DatanodeInfo{{ID: "dn-1", Addr: "10.0.0.1:9866", HTTPAddr: "10.0.0.1:9864"}}
	dn := cairn.DatanodeStatus{
		ID: "dn-1", Addr: "10.0.0.1:9866", HTTPAddr: "10.0.0.1:9864", State: "decommissioning",
		CapacityBytes: 1000, UsedBytes: 300, RemainingBytes: 700, Blocks: 12,
		LastHeartbeat: time.Unix(0, 1_700_000_000_123_456_789), ActiveTransfers: 2,
		FailedVolumes: []string{"/data/2"}, PendingDeletion: 4,
	}
	roundTrip(t, cairn.ServerDefaults{BlockSize: 1 << 20, Replication: 2, ClusterID: "c1", LeaseSoftLimit: 90 * time.Second},
		ServerDefaultsToProto, ServerDefaultsFromProto)
	roundTrip(t, cairn.ContentSummary{Length: 10, Files: 2, Directories: 3, SpaceConsumed: 30},
		ContentSummaryToProto, ContentSummaryFromProto)
	roundTrip(t, dn, DatanodeStatusToProto, DatanodeStatusFromProto)
	roundTrip(t, cairn.ClusterReport{ClusterID: "c1", SafeMode: true, Datanodes: []cairn.DatanodeStatus{dn, dn},
		PendingDeletionBlocks: 8, PendingReplicationBlocks: 5}, ClusterReportToProto, ClusterReportFromProto)
	roundTrip(t, cairn.StorageReport{CapacityBytes: 1000, UsedBytes: 300, RemainingBytes: 600, ActiveTransfers: 3, FailedVolumes: []string{"/data/2"}},
		StorageReportToProto, StorageReportFromProto)
	roundTrip(t, cairn.Command{ID: 9, Type: cairn.CommandCopyBlocks, Blocks: []cairn.Block{{ID: 7, GenStamp: 1001, Len: 4000}},
		Targets: locs, NewGenStamp: 1002, Term: 7}, CommandToProto, CommandFromProto)
	roundTrip(t, cairn.SafeModeStatus{On: true, Manual: true, Reason: "entered manually"},
		SafeModeStatusToProto, SafeModeStatusFromProto)
	roundTrip(t, cairn.FsckReport{
		Status: cairn.FsckCorrupt, Files: 3, Directories: 2, Blocks: 4, TotalSize: 4000,
		UnderReplicatedBlocks: 1, CorruptBlocks: 1, MissingBlocks: 1, OpenFiles: 1, LiveDatanodes: 3,
		FileDetails: []cairn.FsckFile{{
			Path: "/a/f", Size: 4000, Replication: 3, Open: true, Status: cairn.FsckMissing,
			Blocks: []cairn.FsckBlock{{
				Block:     cairn.Block{ID: 7, GenStamp: 1001, Len: 4000},
				Locations: locs, LiveReplicas: 1, CorruptReplicas: 2, State: cairn.FsckUnderReplicated,
			}},
			LeaseHolder: "client-1", LeaseAge: 1500 * time.Millisecond,
		}},
	}, FsckReportToProto, FsckReportFromProto)

	opts := cairn.FsckOptions{Files: true, Blocks: true, Locations: true, OpenFiles: true}
	allSet(t, "FsckOptions", reflect.ValueOf(opts))
	p, got := FsckRequestFromProto(wire(t, FsckRequestToProto("/a", opts)))
	if p != "/a" || got != opts {
		t.Errorf("FsckRequest round trip = %q %+v, want /a %+v", p, got, opts)
	}
	for _, o := range []cairn.FsckOptions{{Files: true}, {Blocks: true}, {Locations: true}, {OpenFiles: true}} {
		if _, got := FsckRequestFromProto(wire(t, FsckRequestToProto("/", o))); got != o {
			t.Errorf("FsckRequest round trip of %+v = %+v: options are sent as they are", o, got)
		}
	}
}

// A DataNode never heard from has a zero LastHeartbeat on the client,
// and the NameNode's "never" (the Unix epoch) reads as zero too.
func TestDatanodeStatusNeverHeardFrom(t *testing.T) {
	for _, hb := range []time.Time{{}, time.Unix(0, 0)} {
		p := DatanodeStatusToProto(cairn.DatanodeStatus{ID: "dn", LastHeartbeat: hb})
		if p.LastHeartbeatUnixNano != 0 {
			t.Errorf("heartbeat %v sent as %d, want 0", hb, p.LastHeartbeatUnixNano)
		}
		if got := DatanodeStatusFromProto(p).LastHeartbeat; !got.IsZero() {
			t.Errorf("heartbeat %v came back as %v, want zero", hb, got)
		}
	}
}
