// Package audit is the audit log: who did what and when, per workspace (issue 13 item 6).
//
// The actor travels in the context: the dashboard's requireLogin puts the session's user
// there (WithActor), the JSON API's key middleware the key; without one the actor is the
// system (workers, the scheduler, the CLI). Whoever makes a change that is recorded builds its
// entry with New (the actor read from the context) and hands it to the store method that
// makes the change, which writes it in the same transaction: an entry exists exactly when its
// change was committed. What changes nothing in the database (an export, a bulk deletion asked
// for, which runs later as a job) is written alone with Service.Record.
//
// The log is read with Service.List (the dashboard page, its CSV and GET /api/v1/audit-log)
// and kept for PARLEY_AUDIT_RETENTION (Service.Prune, the audit:prune task).
package audit

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Actor types.
const (
	ActorUser   = "user"
	ActorAPIKey = "api_key"
	ActorSystem = "system"
)

// Actor is who acts: a user (ID the user's id, Name their name or email), an API key (its id
// and name) or the system (ID 0).
type Actor struct {
	Type string
	ID   int64
	Name string
}

// System is the actor of changes nobody asked for in a request: workers, the scheduler, the
// command line.
var System = Actor{Type: ActorSystem, Name: "system"}

// UserActor is the actor of a signed-in user: named by their name, or their email without one.
func UserActor(u *store.User) Actor {
	return Actor{Type: ActorUser, ID: u.ID, Name: model.PersonName(u.Name, u.Email)}
}

// KeyActor is the actor of a request made with an API key.
func KeyActor(k *store.APIKey) Actor {
	return Actor{Type: ActorAPIKey, ID: k.ID, Name: k.Name}
}

type actorKey struct{}

// WithActor returns ctx carrying the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom is the context's actor, System when it carries none.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok && a.Type != "" {
		return a
	}
	return System
}

// Target is what an action was done to: a type (TargetConversation...) and its id ("" when
// the action has no single target, as a bulk deletion or the workspace's settings).
type Target struct {
	Type string
	ID   string
}

// Target types.
const (
	TargetUser         = "user"
	TargetMember       = "member"
	TargetInvite       = "invite"
	TargetWorkspace    = "workspace"
	TargetAPIKey       = "api_key"
	TargetAssistant    = "assistant"
	TargetConversation = "conversation"
	TargetSettings     = "settings"
	TargetTag          = "tag" // issue 14: review
)

// TargetTestSet is a test set (issue 15): its creation, renaming, deletion and cases.
const TargetTestSet = "test_set"

// On is the target of type typ with the numeric id id (0: none yet, the store fills in the id
// of a row it creates).
func On(typ string, id int64) Target {
	t := Target{Type: typ}
	if id > 0 {
		t.ID = strconv.FormatInt(id, 10)
	}
	return t
}

// New builds the entry of action by the context's actor in the workspace, on target, with
// details (anything encoding/json encodes to an object; nil for none). Hand it to the store
// method making the change, or to Service.Record when nothing changes.
func New(ctx context.Context, workspaceID int64, action Action, target Target, details any) *store.AuditEntry {
	return NewBy(ActorFrom(ctx), workspaceID, action, target, details)
}

// NewBy is New with the actor given (a sign-in: nobody is signed in yet in the context).
func NewBy(a Actor, workspaceID int64, action Action, target Target, details any) *store.AuditEntry {
	e := &store.AuditEntry{
		WorkspaceID: workspaceID, ActorType: a.Type, ActorName: a.Name,
		Action: string(action), TargetType: target.Type, TargetID: target.ID, Details: "{}",
	}
	if a.ID > 0 {
		e.ActorID = strconv.FormatInt(a.ID, 10)
	}
	SetDetails(e, details)
	return e
}

// SetDetails replaces an entry's details (a change known only inside the store's
// transaction, as the settings before and after a save).
func SetDetails(e *store.AuditEntry, details any) {
	if details == nil {
		return
	}
	b, err := json.Marshal(details)
	if err != nil || len(b) == 0 || b[0] != '{' {
		b, _ = json.Marshal(map[string]any{"value": details})
	}
	e.Details = string(b)
}

// Service reads, writes alone and prunes the audit log.
type Service struct {
	Store *store.Store
	// Retention is how long entries are kept (PARLEY_AUDIT_RETENTION); 0 is DefaultRetention.
	Retention time.Duration
}

// DefaultRetention is how long entries are kept when Retention is not set.
const DefaultRetention = 365 * 24 * time.Hour

// Record writes entries that record no change of their own (exports, a bulk deletion asked
// for).
func (s *Service) Record(ctx context.Context, entries ...*store.AuditEntry) error {
	return s.Store.RecordAudit(ctx, entries...)
}

// Filter narrows the log: an action, an actor ("user:12", "api_key:3", "system").
type Filter struct {
	Action string
	Actor  string
}

// MaxLimit is the largest page.
const MaxLimit = 200

// List is a page of the workspace's log, newest first, after cursor, with the next page's
// cursor ("" after the last); store.ErrBadCursor for a cursor that is not one.
func (s *Service) List(ctx context.Context, workspaceID int64, f Filter, cursor string, limit int) ([]store.AuditEntry, string, error) {
	if limit <= 0 || limit > MaxLimit {
		limit = 50
	}
	sf := store.AuditFilter{Action: f.Action}
	if f.Actor != "" {
		sf.ActorType, sf.ActorID = ParseActor(f.Actor)
	}
	return s.Store.AuditLog(ctx, workspaceID, sf, cursor, limit)
}

// Each calls fn with every entry of the workspace's log that matches f, newest first, in
// pages (the CSV export).
func (s *Service) Each(ctx context.Context, workspaceID int64, f Filter, fn func(*store.AuditEntry) error) error {
	cursor := ""
	for {
		rows, next, err := s.List(ctx, workspaceID, f, cursor, MaxLimit)
		if err != nil {
			return err
		}
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// ActorChoice is one actor of the log for the filter: its key ("user:12") and name.
type ActorChoice struct {
	Key  string
	Name string
}

// Actors lists the actors that appear in the workspace's log.
func (s *Service) Actors(ctx context.Context, workspaceID int64) ([]ActorChoice, error) {
	rows, err := s.Store.AuditActors(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	out := make([]ActorChoice, 0, len(rows))
	for _, r := range rows {
		out = append(out, ActorChoice{Key: ActorKey(r.ActorType, r.ActorID), Name: r.ActorName})
	}
	return out, nil
}

// ActorKey is the filter's spelling of an actor: "type:id", or the type alone without an id.
func ActorKey(typ, id string) string {
	if id == "" {
		return typ
	}
	return typ + ":" + id
}

// ParseActor reads ActorKey's spelling back.
func ParseActor(key string) (typ, id string) {
	for i := 0; i < len(key); i++ {
		if key[i] == ':' {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}

// Prune deletes the entries older than the retention at now, in batches, and says how many.
func (s *Service) Prune(ctx context.Context, now time.Time, batch int) (int, error) {
	keep := s.Retention
	if keep <= 0 {
		keep = DefaultRetention
	}
	if batch <= 0 {
		batch = 1000
	}
	total := 0
	for {
		n, err := s.Store.PruneAudit(ctx, now.Add(-keep), batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}
