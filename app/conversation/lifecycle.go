package conversation

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/workspace"
)

// SetAIEnabled turns AI replies of a conversation on or off (by is the person who took over
// or handed back, by name), and publishes the change; the audit log records it as the
// context's actor's doing.
func (s *Service) SetAIEnabled(ctx context.Context, workspaceID, id int64, on bool, by string) error {
	action := audit.WhatsAppTakeover
	if on {
		action = audit.WhatsAppHandBack
	}
	entry := audit.New(ctx, workspaceID, action, audit.On(audit.TargetConversation, id), map[string]any{"ai_enabled": on})
	if err := s.Store.SetAIEnabled(ctx, workspaceID, id, on, by, entry); err != nil {
		return err
	}
	s.changed(ctx, workspaceID, id)
	return nil
}

// End ends an open conversation for reason (model.EndReasons) at time at (zero: now), stores
// the end with its outbox row (store.EndConversation), calls OnEnded and publishes the
// change. Ending an ended conversation changes nothing: end is nil. An end someone asked for
// in the dashboard or the API (the context carries their actor) is written to the audit log
// with it.
func (s *Service) End(ctx context.Context, workspaceID, id int64, reason string, at time.Time) (end *store.ConversationEnd, err error) {
	var entry *store.AuditEntry
	if audit.ActorFrom(ctx).Type != audit.ActorSystem {
		entry = audit.New(ctx, workspaceID, audit.ConversationEnd, audit.On(audit.TargetConversation, id), map[string]any{"reason": reason})
	}
	end, err = s.Store.EndConversation(ctx, workspaceID, id, reason, at, entry)
	if err != nil {
		return nil, err
	}
	s.ended(ctx, end)
	return end, nil
}

// EndIdle ends an open conversation whose last message was at last for idling (model.EndIdle)
// at the moment it idled out (model.IdleEnd), when it is still idle at now: a message that
// came meanwhile keeps it open. nil when it did not end.
func (s *Service) EndIdle(ctx context.Context, workspaceID, id int64, last time.Time, idle time.Duration, now time.Time) (*store.ConversationEnd, error) {
	if !model.Idle(last, now, idle) {
		return nil, nil
	}
	end, err := s.Store.EndIdleConversation(ctx, workspaceID, id, model.IdleEnd(last, idle), model.IdleCutoff(now, idle))
	if err != nil {
		return nil, err
	}
	s.ended(ctx, end)
	return end, nil
}

// EndIdleConversations is the end sweep: it ends, type by type, the open conversations idle
// at now for their type's idle time (model.IdleTimes), batch by batch (at most batch a query,
// and at most rounds batches a type, so one run is bounded), and returns how many it ended.
// Each end is decided by the store's conditional UPDATE, so concurrent sweeps end each
// conversation once.
func (s *Service) EndIdleConversations(ctx context.Context, idle model.IdleTimes, now time.Time, batch, rounds int) (int, error) {
	if batch <= 0 {
		batch = 500
	}
	if rounds <= 0 {
		rounds = 20
	}
	n := 0
	for _, typ := range model.Types {
		d := idle.For(typ)
		if d <= 0 {
			continue
		}
		for round := 0; round < rounds; round++ {
			convs, err := s.Store.IdleConversations(ctx, typ, model.IdleCutoff(now, d), batch)
			if err != nil {
				return n, err
			}
			for _, c := range convs {
				end, err := s.EndIdle(ctx, c.WorkspaceID, c.ID, c.LastMessageAt, d, now)
				if err != nil {
					return n, fmt.Errorf("end conversation %d: %w", c.ID, err)
				}
				if end != nil {
					n++
				}
			}
			if len(convs) < batch {
				break
			}
		}
	}
	return n, nil
}

// ended tells what an end promises (OnEnded) and every open page; nothing for a nil end.
func (s *Service) ended(ctx context.Context, end *store.ConversationEnd) {
	if end == nil {
		return
	}
	if s.OnEnded != nil {
		s.OnEnded(ctx, end)
	}
	s.changed(ctx, end.WorkspaceID, end.ConversationID)
	s.countsChanged(ctx, end.WorkspaceID)
}

// CloseExpiredWindow closes a WhatsApp conversation's window when its deadline has really
// passed at time at (the database decides) and ends the conversation at the deadline
// (model.EndWindow) in the same transaction, and publishes the change; closed tells whether
// it did.
func (s *Service) CloseExpiredWindow(ctx context.Context, workspaceID, id int64, at time.Time) (closed bool, err error) {
	closed, end, err := s.Store.CloseWindowAndEnd(ctx, workspaceID, id, at)
	if err != nil || !closed {
		return closed, err
	}
	if end != nil {
		s.ended(ctx, end)
	} else {
		s.changed(ctx, workspaceID, id)
	}
	return true, nil
}

// CloseExpiredWindows closes up to limit windows whose deadline passed before at and that are
// still marked open (their expiry task was lost), ending their conversations as
// CloseExpiredWindow does and publishing each; it returns how many.
func (s *Service) CloseExpiredWindows(ctx context.Context, at time.Time, limit int) (int, error) {
	closed, err := s.Store.CloseExpiredWindows(ctx, at, limit)
	for _, c := range closed {
		if c.End != nil {
			s.ended(ctx, c.End)
		} else {
			s.changed(ctx, c.WorkspaceID, c.ID)
		}
	}
	return len(closed), err
}

// DeleteMatching deletes a workspace's conversations matching f, batch by batch (each batch is
// one transaction that keeps the counts right, so a crash loses nothing and a retry continues
// where it stopped), publishing the counts and calling each (when not nil) after every batch.
// Every copy of the conversations' content goes (see store.DeleteConversation and
// store.Scrub), the usage ledger keeping its amounts and ids.
func (s *Service) DeleteMatching(ctx context.Context, workspaceID int64, f store.Filter, batch int, each func(n int) error) (int, error) {
	if batch <= 0 {
		batch = 500
	}
	total := 0
	for {
		n, err := s.Store.DeleteMatching(ctx, workspaceID, f, batch)
		if err != nil {
			return total, err
		}
		if n == 0 {
			if total > 0 {
				// Erasure: the deleted rows leave no copy in the database's files either.
				return total, s.Store.Scrub(ctx)
			}
			return total, nil
		}
		total += n
		s.countsChanged(ctx, workspaceID)
		if each != nil {
			if err := each(n); err != nil {
				return total, err
			}
		}
	}
}

// ErrBadBulkDelete is a bulk deletion that no retry can run (its filter does not parse).
var ErrBadBulkDelete = errors.New("bulk deletion cannot run")

// RunBulkDelete runs the bulk deletion jobID of a workspace: the list's filters as URL
// parameters (query), evaluated at askedAt (so "last 7 days" means the same week when a retry
// runs later), with its progress kept in jobs. A filter that does not parse fails the job and
// returns an error wrapping ErrBadBulkDelete.
func (s *Service) RunBulkDelete(ctx context.Context, jobs BulkJobs, workspaceID int64, jobID, query string, askedAt time.Time, batch int) (int, error) {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return 0, fmt.Errorf("%w: bad query: %v", ErrBadBulkDelete, err)
	}
	if askedAt.IsZero() {
		askedAt = time.Now()
	}
	_, f, err := ParseQuery(vals, askedAt)
	if err != nil {
		_ = jobs.Progress(ctx, workspaceID, jobID, 0, "failed", err.Error())
		return 0, fmt.Errorf("%w: %v", ErrBadBulkDelete, err)
	}
	f.Sort = ""
	_ = jobs.Progress(ctx, workspaceID, jobID, 0, "running", "")
	n, err := s.DeleteMatching(ctx, workspaceID, f, batch, func(n int) error {
		return jobs.Progress(ctx, workspaceID, jobID, int64(n), "running", "")
	})
	if err != nil {
		_ = jobs.Progress(context.WithoutCancel(ctx), workspaceID, jobID, 0, "running", "retrying after: "+err.Error())
		return n, err
	}
	return n, jobs.Progress(ctx, workspaceID, jobID, 0, "done", "")
}

// Retained is what one retention pass deleted in a workspace for a type.
type Retained struct {
	WorkspaceID int64
	Type        string
	Days        int
	Deleted     int
}

// ApplyRetention deletes, per workspace and type, conversations whose last activity is older
// than the workspace's retention setting at time now, and returns what it deleted.
func (s *Service) ApplyRetention(ctx context.Context, now time.Time, batch int) ([]Retained, error) {
	ids, err := s.Store.WorkspaceIDs(ctx)
	if err != nil {
		return nil, err
	}
	var out []Retained
	for _, ws := range ids {
		raw, err := s.Store.WorkspaceSettings(ctx, ws)
		if err != nil {
			return out, err
		}
		st := workspace.Decode(raw)
		for typ, days := range st.RetentionDays {
			if days <= 0 || !ValidType(typ) {
				continue
			}
			cutoff := now.AddDate(0, 0, -days)
			n, err := s.DeleteMatching(ctx, ws, store.Filter{Type: typ, To: &cutoff}, batch, nil)
			if err != nil {
				return out, err
			}
			if n > 0 {
				out = append(out, Retained{WorkspaceID: ws, Type: typ, Days: days, Deleted: n})
			}
		}
	}
	return out, nil
}
