package assistants

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Versions (issue 15): every saved change to an assistant's behaviour (model.Behaviour) is a
// new immutable, numbered version; the assistant has one published version (what answers
// customers, copied into its row) and at most one draft (what edits go to). This file is the
// one place that decides when a save makes a version and when a version may be published.

// Gate decides whether version v of assistant a may be published, when a's publish gate is
// on. It returns nil to allow, a *GateRefusal to refuse (its reason is shown to whoever
// asked: 409 in the API, an error on the dashboard), or another error when it could not
// decide (a failure, not a refusal). It is called before the publish's transaction, so it
// may use the store.
type Gate func(ctx context.Context, a *store.Assistant, v *store.AssistantVersion) error

// GateRefusal is the publish gate's refusal.
type GateRefusal struct{ Reason string }

func (r *GateRefusal) Error() string { return "publish refused: " + r.Reason }

// Refuse is a gate's refusal with its reason.
func Refuse(format string, args ...any) error {
	return &GateRefusal{Reason: fmt.Sprintf(format, args...)}
}

// IsRefusal reports a publish refused by the gate (and gives its reason).
func IsRefusal(err error) (string, bool) {
	var r *GateRefusal
	if errors.As(err, &r) {
		return r.Reason, true
	}
	return "", false
}

// ErrNoVersion is a version number the assistant does not have.
var ErrNoVersion = errors.New("the assistant has no such version")

// Versions saves and publishes an assistant's versions.
type Versions struct {
	Store *store.Store
	// Gate is the publish gate (a test set run of the version that did not regress); nil
	// refuses every publish of an assistant whose gate is on.
	Gate Gate
}

// Edit applies an edit of the settings to the locked row: it writes the unversioned
// settings into row (Update.ApplySettings) and returns the behaviour asked for, starting
// from base (the draft's behaviour, or the published one's when there is no draft). It must
// not use the store.
type Edit func(row *store.Assistant, base model.Behaviour) (model.Behaviour, error)

// Saved is the result of a save.
type Saved struct {
	Assistant *store.Assistant
	// Version is the version the save made (the draft or, published at once, the published
	// one) or published (the draft); nil when the behaviour did not change.
	Version   *store.AssistantVersion
	Published bool
}

// SameBehaviour reports two behaviours that would answer alike: a save whose behaviour is
// the same as the one it started from makes no version.
func SameBehaviour(a, b model.Behaviour) bool {
	norm := func(b model.Behaviour) model.Behaviour {
		if b.Variables == nil {
			b.Variables = []model.Variable{}
		}
		if b.Evaluators == nil {
			b.Evaluators = []model.Evaluator{}
		}
		for i := range b.Evaluators {
			if b.Evaluators[i].Options == nil {
				b.Evaluators[i].Options = []string{}
			}
		}
		return b
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// Author is who saves or publishes, from the context's actor (a member or an API key).
func Author(ctx context.Context) store.Author {
	a := audit.ActorFrom(ctx)
	if a.Type == audit.ActorUser && a.ID > 0 {
		id := a.ID
		return store.Author{ID: &id, Name: a.Name}
	}
	if a.Type == audit.ActorAPIKey {
		return store.Author{Name: "API key " + a.Name}
	}
	return store.Author{Name: a.Name}
}

// Save changes assistant id's settings with edit, in one transaction under the row's lock:
// the unversioned settings are written to the row; the behaviour becomes a new version only
// when it differs from the one the edit started from (the draft's, or with no draft the
// published one's), as the draft, or with publish the published version at once. With
// publish and no new version, the current draft (if any) is published. An assistant whose
// publish gate is on is never published by a save (the new version has no test set run
// yet): that is a *GateRefusal and nothing is written. entries (AuditEntries) are written in
// the transaction, with an entry for the version saved and one for a publish.
func (s *Versions) Save(ctx context.Context, workspaceID, id int64, edit Edit, publish bool, entries []*store.AuditEntry) (*Saved, error) {
	// entries, then a slot for the version saved and one for a publish.
	es := make([]*store.AuditEntry, len(entries)+2)
	slot := len(entries)
	row, v, err := s.Store.SaveAssistant(ctx, workspaceID, id, func(a *store.Assistant, base *store.AssistantVersion) (store.VersionChange, error) {
		from := base.Behaviour()
		next, err := edit(a, from)
		if err != nil {
			return store.VersionChange{}, err
		}
		copy(es, entries) // edit may have filled entries' slots (DescribeChange)
		next.Evaluators = VersionEvaluators(from.Evaluators, next.Evaluators)
		ch := store.VersionChange{Publish: publish}
		if !SameBehaviour(from, next) {
			ch.Behaviour = &next
		}
		if publish && a.PublishGate && (ch.Behaviour != nil || a.DraftVersion != 0) {
			return ch, Refuse("the publish gate is on: save the draft, run a test set against it, then publish it")
		}
		ch.Done = func(v *store.AssistantVersion, published bool) {
			if ch.Behaviour != nil {
				es[slot] = audit.New(ctx, workspaceID, audit.AssistantVersionSave, audit.On(audit.TargetAssistant, id),
					map[string]any{"version": v.Number, "name": a.Name, "published": published})
			}
			if published {
				es[slot+1] = audit.New(ctx, workspaceID, audit.AssistantPublish, audit.On(audit.TargetAssistant, id),
					map[string]any{"version": v.Number, "name": a.Name})
			}
		}
		return ch, nil
	}, Author(ctx), es...)
	if err != nil {
		return nil, err
	}
	return &Saved{Assistant: row, Version: v, Published: v != nil && row.PublishedVersion == v.Number}, nil
}

// Publish makes version ref of the assistant the published one: the draft, or any version
// (an older one is a rollback). When the assistant's publish gate is on, the gate decides
// first (a *GateRefusal refuses). store.ErrNotFound: no such assistant; ErrNoVersion: no
// such version; store.ErrNoDraft: a draft asked for and none there.
func (s *Versions) Publish(ctx context.Context, workspaceID, id int64, ref model.VersionRef) (*store.AssistantVersion, *store.Assistant, error) {
	a, err := s.Store.AssistantByID(ctx, workspaceID, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.Store.ResolveVersion(ctx, a, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNoVersion
	}
	if err != nil {
		return nil, nil, err
	}
	if a.PublishGate {
		if s.Gate == nil {
			return nil, nil, Refuse("the publish gate is on, and no test set runs can be checked")
		}
		if err := s.Gate(ctx, a, v); err != nil {
			return nil, nil, err
		}
	}
	e := audit.New(ctx, workspaceID, audit.AssistantPublish, audit.On(audit.TargetAssistant, id),
		map[string]any{"version": v.Number, "name": a.Name, "previous": a.PublishedVersion})
	v, a, err = s.Store.PublishAssistantVersion(ctx, workspaceID, id, v.Number, Author(ctx), e)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNoVersion
	}
	return v, a, err
}

// Version is one version with its publications, as the versions list shows it.
type Version struct {
	store.AssistantVersion
	// Published: this version answers customers now; Draft: it is the draft.
	Published, Draft bool
	// LastPublished is its latest publication (nil when never published).
	LastPublished *store.AssistantPublication
}

// List is the assistant's versions, newest first, each with its latest publication.
func (s *Versions) List(ctx context.Context, a *store.Assistant) ([]Version, error) {
	vs, err := s.Store.AssistantVersions(ctx, a.WorkspaceID, a.ID)
	if err != nil {
		return nil, err
	}
	ps, err := s.Store.AssistantPublications(ctx, a.WorkspaceID, a.ID)
	if err != nil {
		return nil, err
	}
	latest := map[int]*store.AssistantPublication{}
	for i := range ps { // newest first: the first seen is the latest
		if latest[ps[i].Number] == nil {
			latest[ps[i].Number] = &ps[i]
		}
	}
	out := make([]Version, len(vs))
	for i, v := range vs {
		out[i] = Version{AssistantVersion: v, Published: v.Number == a.PublishedVersion, Draft: v.Number == a.DraftVersion,
			LastPublished: latest[v.Number]}
	}
	return out, nil
}

// One is version n of the assistant with its latest publication (ErrNoVersion when none).
func (s *Versions) One(ctx context.Context, a *store.Assistant, n int) (*Version, error) {
	v, err := s.Store.AssistantVersionByNumber(ctx, a.WorkspaceID, a.ID, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoVersion
	}
	if err != nil {
		return nil, err
	}
	ps, err := s.Store.AssistantPublications(ctx, a.WorkspaceID, a.ID)
	if err != nil {
		return nil, err
	}
	out := &Version{AssistantVersion: *v, Published: n == a.PublishedVersion, Draft: n == a.DraftVersion}
	for i := range ps {
		if ps[i].Number == n {
			out.LastPublished = &ps[i]
			break
		}
	}
	return out, nil
}

// Answering is the assistant row answering with version ref (a copy, Overlay): what a Test
// Chat started with that version uses. The published version is the row itself.
func (s *Versions) Answering(ctx context.Context, a *store.Assistant, ref model.VersionRef) (*store.Assistant, error) {
	if !ref.Draft && ref.Number == a.PublishedVersion {
		return a, nil
	}
	v, err := s.Store.ResolveVersion(ctx, a, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoVersion
	}
	if err != nil {
		return nil, err
	}
	return v.Overlay(a), nil
}
