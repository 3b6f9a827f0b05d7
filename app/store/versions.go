package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app/model"
)

// AssistantVersion is one immutable, numbered version of an assistant's behaviour (issue 15).
// Numbers start at 1 and have no gaps per assistant (assistant_versions is unique on
// (assistant_id, number), and SaveAssistantVersion numbers under the assistant row's lock).
type AssistantVersion struct {
	bun.BaseModel `bun:"table:assistant_versions"`
	ID            int64      `bun:"id,pk,autoincrement"`
	WorkspaceID   int64      `bun:"workspace_id"`
	AssistantID   int64      `bun:"assistant_id"`
	Number        int        `bun:"number"`
	SystemPrompt  string     `bun:"system_prompt"`
	FirstMessage  string     `bun:"first_message"`
	Model         string     `bun:"model"`
	Temperature   float64    `bun:"temperature"`
	Variables     Variables  `bun:"variables"`
	Evaluators    Evaluators `bun:"evaluators"`
	CreatedByID   *int64     `bun:"created_by_id"`
	CreatedBy     string     `bun:"created_by"`
	CreatedAt     time.Time  `bun:"created_at"`
}

// Behaviour is the version's behaviour.
func (v *AssistantVersion) Behaviour() model.Behaviour {
	return model.Behaviour{SystemPrompt: v.SystemPrompt, FirstMessage: v.FirstMessage, Model: v.Model,
		Temperature: v.Temperature, Variables: orEmpty(v.Variables), Evaluators: orEmpty(v.Evaluators)}
}

// SetBehaviour writes b into the version row.
func (v *AssistantVersion) SetBehaviour(b model.Behaviour) {
	v.SystemPrompt, v.FirstMessage, v.Model, v.Temperature = b.SystemPrompt, b.FirstMessage, b.Model, b.Temperature
	v.Variables, v.Evaluators = orEmpty(Variables(b.Variables)), orEmpty(Evaluators(b.Evaluators))
}

// SetBehaviour writes b into the assistant row's behaviour columns (the published copy).
func (a *Assistant) SetBehaviour(b model.Behaviour) {
	a.SystemPrompt, a.FirstMessage, a.Model, a.Temperature = b.SystemPrompt, b.FirstMessage, b.Model, b.Temperature
	a.Variables, a.Evaluators = orEmpty(Variables(b.Variables)), orEmpty(Evaluators(b.Evaluators))
}

// Behaviour is the behaviour the row holds (the published version's, or the pinned one's).
func (a *Assistant) Behaviour() model.Behaviour {
	return model.Behaviour{SystemPrompt: a.SystemPrompt, FirstMessage: a.FirstMessage, Model: a.Model,
		Temperature: a.Temperature, Variables: orEmpty(a.Variables), Evaluators: orEmpty(a.Evaluators)}
}

// Overlay is a copy of the assistant row answering with this version: its behaviour, and
// Pinned set to its number (AnsweringVersion). The row itself is not changed.
func (v *AssistantVersion) Overlay(a *Assistant) *Assistant {
	c := *a
	c.SetBehaviour(v.Behaviour())
	c.Pinned = v.Number
	return &c
}

// AssistantPublication is one publishing of a version (a version published again, a
// rollback, is a new row): who and when.
type AssistantPublication struct {
	bun.BaseModel `bun:"table:assistant_publications"`
	ID            int64     `bun:"id,pk,autoincrement"`
	WorkspaceID   int64     `bun:"workspace_id"`
	AssistantID   int64     `bun:"assistant_id"`
	Number        int       `bun:"number"`
	PublishedByID *int64    `bun:"published_by_id"`
	PublishedBy   string    `bun:"published_by"`
	PublishedAt   time.Time `bun:"published_at"`
}

// Author is who saved or published a version: a member (ID and name as it was then), or
// an API key or the CLI (ID nil, a name such as "API key ci").
type Author struct {
	ID   *int64
	Name string
}

// ErrNoDraft is a reference to the draft of an assistant that has none.
var ErrNoDraft = errors.New("the assistant has no draft")

// AssistantVersionByNumber loads version n of an assistant of the workspace.
func (s *Store) AssistantVersionByNumber(ctx context.Context, workspaceID, assistantID int64, n int) (*AssistantVersion, error) {
	v := new(AssistantVersion)
	err := s.DB.NewSelect().Model(v).
		Where("workspace_id = ? AND assistant_id = ? AND number = ?", workspaceID, assistantID, n).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return v, nil
}

// ResolveVersion loads the version a reference names for the assistant row a: the draft
// (ErrNoDraft when it has none) or a number (ErrNotFound when there is no such version).
func (s *Store) ResolveVersion(ctx context.Context, a *Assistant, ref model.VersionRef) (*AssistantVersion, error) {
	n := ref.Number
	if ref.Draft {
		if a.DraftVersion == 0 {
			return nil, ErrNoDraft
		}
		n = a.DraftVersion
	}
	return s.AssistantVersionByNumber(ctx, a.WorkspaceID, a.ID, n)
}

// AssistantVersions lists an assistant's versions, newest first.
func (s *Store) AssistantVersions(ctx context.Context, workspaceID, assistantID int64) ([]AssistantVersion, error) {
	var vs []AssistantVersion
	err := s.DB.NewSelect().Model(&vs).Where("workspace_id = ? AND assistant_id = ?", workspaceID, assistantID).
		Order("number DESC").Scan(ctx)
	return vs, err
}

// AssistantPublications lists an assistant's publications, newest first.
func (s *Store) AssistantPublications(ctx context.Context, workspaceID, assistantID int64) ([]AssistantPublication, error) {
	var ps []AssistantPublication
	err := s.DB.NewSelect().Model(&ps).Where("workspace_id = ? AND assistant_id = ?", workspaceID, assistantID).
		Order("published_at DESC", "id DESC").Scan(ctx)
	return ps, err
}

// lockAssistant reads the assistant row in tx, locked for the rest of the transaction on
// PostgreSQL (SQLite has one writer: the transaction is the lock).
func lockAssistant(ctx context.Context, tx bun.Tx, dialect Dialect, workspaceID, assistantID int64) (*Assistant, error) {
	a := new(Assistant)
	q := tx.NewSelect().Model(a).Where("id = ? AND workspace_id = ?", assistantID, workspaceID)
	if dialect == Postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return a, nil
}

// insertVersion writes the next version of the locked assistant a with behaviour b.
func insertVersion(ctx context.Context, tx bun.Tx, a *Assistant, b model.Behaviour, by Author, at time.Time) (*AssistantVersion, error) {
	var last sql.NullInt64
	if err := tx.NewSelect().Model((*AssistantVersion)(nil)).ColumnExpr("max(number)").
		Where("assistant_id = ?", a.ID).Scan(ctx, &last); err != nil {
		return nil, err
	}
	v := &AssistantVersion{WorkspaceID: a.WorkspaceID, AssistantID: a.ID, Number: int(last.Int64) + 1,
		CreatedByID: by.ID, CreatedBy: by.Name, CreatedAt: at}
	v.SetBehaviour(b)
	if _, err := tx.NewInsert().Model(v).Returning("id").Exec(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// publish makes version v the published one of the locked assistant a: its behaviour is
// copied into the row, the publication recorded, and the draft cleared when v is it.
func publish(ctx context.Context, tx bun.Tx, a *Assistant, v *AssistantVersion, by Author, at time.Time) error {
	a.SetBehaviour(v.Behaviour())
	a.PublishedVersion = v.Number
	if a.DraftVersion == v.Number {
		a.DraftVersion = 0
	}
	a.UpdatedAt = at
	if _, err := tx.NewUpdate().Model(a).
		Column("system_prompt", "first_message", "model", "temperature", "variables", "evaluators",
			"published_version", "draft_version", "updated_at").
		WherePK().Exec(ctx); err != nil {
		return err
	}
	p := &AssistantPublication{WorkspaceID: a.WorkspaceID, AssistantID: a.ID, Number: v.Number,
		PublishedByID: by.ID, PublishedBy: by.Name, PublishedAt: at}
	_, err := tx.NewInsert().Model(p).Returning("id").Exec(ctx)
	return err
}

// SaveAssistantVersion saves behaviour b as the next version of the assistant (numbered
// without gaps, under the row's lock) and makes it the draft, or, with publish, the published
// version at once. The audit entries are written in the same transaction. It returns the
// version and the assistant row as it is after the change. Deciding whether b differs from
// the current draft or published version is the caller's (app/assistants).
func (s *Store) SaveAssistantVersion(ctx context.Context, workspaceID, assistantID int64, b model.Behaviour, by Author, publishNow bool, audit ...*AuditEntry) (*AssistantVersion, *Assistant, error) {
	var v *AssistantVersion
	var a *Assistant
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if a, err = lockAssistant(ctx, tx, s.Dialect, workspaceID, assistantID); err != nil {
			return err
		}
		at := now()
		if v, err = insertVersion(ctx, tx, a, b, by, at); err != nil {
			return err
		}
		if publishNow {
			if err := publish(ctx, tx, a, v, by, at); err != nil {
				return err
			}
		} else {
			a.DraftVersion, a.UpdatedAt = v.Number, at
			if _, err := tx.NewUpdate().Model(a).Column("draft_version", "updated_at").WherePK().Exec(ctx); err != nil {
				return err
			}
		}
		fillTarget(audit, a.ID)
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, nil, err
	}
	return v, a, nil
}

// PublishAssistantVersion makes version n the published version of the assistant (a draft
// published stops being the draft; an older version published again is a rollback). The
// publish gate is the caller's, before (a store call inside the transaction would wait for
// it on SQLite's one connection).
func (s *Store) PublishAssistantVersion(ctx context.Context, workspaceID, assistantID int64, n int, by Author, audit ...*AuditEntry) (*AssistantVersion, *Assistant, error) {
	var v *AssistantVersion
	var a *Assistant
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if a, err = lockAssistant(ctx, tx, s.Dialect, workspaceID, assistantID); err != nil {
			return err
		}
		v = new(AssistantVersion)
		if err := tx.NewSelect().Model(v).Where("assistant_id = ? AND number = ?", a.ID, n).Scan(ctx); err != nil {
			return notFound(err)
		}
		if err := publish(ctx, tx, a, v, by, now()); err != nil {
			return err
		}
		fillTarget(audit, a.ID)
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, nil, err
	}
	return v, a, nil
}

// firstVersion writes version 1 of a new assistant a (inserted in tx) and publishes it.
func firstVersion(ctx context.Context, tx bun.Tx, a *Assistant, by Author) error {
	v, err := insertVersion(ctx, tx, a, a.Behaviour(), by, a.CreatedAt)
	if err != nil {
		return err
	}
	return publish(ctx, tx, a, v, by, a.CreatedAt)
}

// VersionPtr is the version the row answers with (AnsweringVersion) as a column value: nil
// before versions existed (0). A conversation records it when it starts, an assistant
// message when the assistant writes it.
func (a *Assistant) VersionPtr() *int {
	if n := a.AnsweringVersion(); n > 0 {
		return &n
	}
	return nil
}

// VersionChange is what saving an assistant's settings does to its versions, decided by
// the caller (app/assistants) from the row and the current behaviour.
type VersionChange struct {
	// Behaviour, when not nil, is saved as the next version: the draft, or with Publish the
	// published version at once.
	Behaviour *model.Behaviour
	// Publish: publish the new version, or (no new version) the current draft.
	Publish bool
	// Done, when set, is called with the version saved or published (published tells which)
	// before the audit entries are written: the caller describes it in them.
	Done func(v *AssistantVersion, published bool)
}

// SaveAssistant changes an assistant's settings and versions in one transaction under the
// row's lock. fn gets the locked row and the behaviour edits start from (the draft's, or the
// published one's when there is no draft, with its number); it writes the unversioned
// settings into the row (leaving the behaviour columns, the published copy, alone) and
// decides what happens to the versions. The row is written back, then a new version is
// inserted (numbered without gaps) and made the draft or published, or the draft published.
// When fn returns an error nothing is written. fn must not use the store (SQLite: the
// transaction holds the only connection). It returns the row after the change and the
// version saved or published (nil when none).
func (s *Store) SaveAssistant(ctx context.Context, workspaceID, id int64, fn func(a *Assistant, base *AssistantVersion) (VersionChange, error), by Author, audit ...*AuditEntry) (*Assistant, *AssistantVersion, error) {
	var a *Assistant
	var v *AssistantVersion
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if a, err = lockAssistant(ctx, tx, s.Dialect, workspaceID, id); err != nil {
			return err
		}
		baseN := a.DraftVersion
		if baseN == 0 {
			baseN = a.PublishedVersion
		}
		base := new(AssistantVersion)
		if err := tx.NewSelect().Model(base).Where("assistant_id = ? AND number = ?", a.ID, baseN).Scan(ctx); err != nil {
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			// No version yet (cannot happen after migration 200): the row is the base.
			base = &AssistantVersion{WorkspaceID: a.WorkspaceID, AssistantID: a.ID}
			base.SetBehaviour(a.Behaviour())
		}
		published := a.Behaviour()
		ch, err := fn(a, base)
		if err != nil {
			return err
		}
		a.SetBehaviour(published) // the row's behaviour changes only by publishing
		a.ID, a.WorkspaceID = id, workspaceID
		if err := s.updateAssistant(ctx, tx, a); err != nil {
			return err
		}
		at := now()
		switch {
		case ch.Behaviour != nil:
			if v, err = insertVersion(ctx, tx, a, *ch.Behaviour, by, at); err != nil {
				return err
			}
			if ch.Publish {
				err = publish(ctx, tx, a, v, by, at)
			} else {
				a.DraftVersion = v.Number
				_, err = tx.NewUpdate().Model(a).Column("draft_version").WherePK().Exec(ctx)
			}
			if err != nil {
				return err
			}
		case ch.Publish && a.DraftVersion != 0:
			v = new(AssistantVersion)
			if err := tx.NewSelect().Model(v).Where("assistant_id = ? AND number = ?", a.ID, a.DraftVersion).Scan(ctx); err != nil {
				return err
			}
			if err := publish(ctx, tx, a, v, by, at); err != nil {
				return err
			}
		}
		if v != nil && ch.Done != nil {
			ch.Done(v, a.PublishedVersion == v.Number)
		}
		fillTarget(audit, a.ID)
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, nil, err
	}
	return a, v, nil
}
