package pebblestore

// Pipelined commits (ApplyPipelined, store.Pipeliner). An Apply's durable
// part is a disk round trip or four: the tx, address and block logs are
// synced, then the Pebble batch whose chain meta names their new ends is
// committed with a sync (the meta is the commit point; see txlog.go). On the
// 10⁷-transfer chain that was ≈ 10 % of an ingest's wall time, during which
// the resolve (the ingest's critical path) waited and the decoders, their
// budget full, did too.
//
// A pipelined Apply does everything else as Apply does (resolve, the
// records written to the logs' files, the in-memory state committed) and
// hands the syncs and the Pebble commit to a commit job, which runs while
// the caller prepares and resolves its next batch. Jobs stay in order: an
// Apply waits for the previous job before it starts its own, and every
// other call of the store waits for the job first (awaitCommit), so no
// one sees a state whose Pebble part is missing, and a segment close
// starts only from durable batches. A crash while a job runs leaves the
// logs longer than the last committed meta says; open cuts them to it, as
// after any crash between a log write and its commit.
//
// A job that fails leaves the in-memory state ahead of the disk: the store
// then refuses every further call with that error (errCommitFailed), Close
// releases it without writing anything, and a reopened store holds exactly
// the batches committed before the failed one.

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// errCommitFailed marks the error of a failed commit job, which every later
// call returns.
var errCommitFailed = errors.New("pebblestore: a batch's commit failed; reopen the store (it opens as of the last batch committed)")

// commitFault, when set, fails commit jobs before their syncs (tests: a
// failing fdatasync cannot be caused on demand here).
var commitFault func() error

// commitJob is a pipelined Apply's durable part, running.
type commitJob struct {
	done chan struct{}
	err  error // set before done is closed
}

// ApplyPipelined implements store.Pipeliner: Apply, returning before the
// batch is durable (see the top of this file).
func (s *Store) ApplyPipelined(c model.Chain, mode store.ApplyMode, blocks []*model.Block) error {
	return s.apply(c, mode, blocks, true)
}

// Durable implements store.Pipeliner: it returns once every applied batch
// is durable, with the error of a commit that failed.
func (s *Store) Durable() error { return s.awaitCommit() }

// awaitCommit waits for the running commit job, if any, and returns its
// error (and, after a failure, on every call from then on).
func (s *Store) awaitCommit() error {
	j := s.commit.Load()
	if j == nil {
		return nil
	}
	<-j.done
	if j.err != nil {
		return j.err
	}
	s.commit.CompareAndSwap(j, nil)
	return nil
}

// commitFailed returns the error of a commit job that has failed, without
// waiting for one that runs.
func (s *Store) commitFailed() error {
	j := s.commit.Load()
	if j == nil {
		return nil
	}
	select {
	case <-j.done:
		return j.err
	default:
		return nil
	}
}

// startCommit starts the commit job of an Apply whose records were written
// to the logs named by syncs (each unsynced): it syncs them, then commits b
// (with the chain meta) and closes it. The previous job must be done.
func (s *Store) startCommit(c model.Chain, b *pebble.Batch, syncs []func() error) {
	j := &commitJob{done: make(chan struct{})}
	if commitFault != nil {
		syncs = append([]func() error{commitFault}, syncs...)
	}
	s.commit.Store(j)
	go func() {
		defer close(j.done)
		defer b.Close()
		for _, sync := range syncs {
			if err := sync(); err != nil {
				j.err = fmt.Errorf("%w: %w", errCommitFailed, err)
				return
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			j.err = fmt.Errorf("%w: commit %s batch: %w", errCommitFailed, c, err)
		}
	}()
}
