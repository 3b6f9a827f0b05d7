package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// ErrPhoneNumberTaken is returned (wrapping the unique violation) when a WhatsApp phone number
// id is already connected to another assistant, in any workspace.
var ErrPhoneNumberTaken = errors.New("this WhatsApp phone number id is already connected to an assistant")

// NewPublicKey makes a widget public key.
func NewPublicKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "pa_" + base64.RawURLEncoding.EncodeToString(b)
}

// assistantWriteErr names a violation of the unique WhatsApp phone number id; the result still
// satisfies IsUniqueViolation.
func assistantWriteErr(err error) error {
	if IsUniqueViolation(err) && strings.Contains(err.Error(), "whatsapp_phone_number_id") {
		return fmt.Errorf("%w: %w", ErrPhoneNumberTaken, err)
	}
	return err
}

// CreateAssistant inserts an assistant; it fills the public key when empty. A phone number id
// connected elsewhere is ErrPhoneNumberTaken (see claimPhoneNumber for a confirmed one).
// The audit entries given are written in the same transaction (empty target ids become the
// assistant's).
func (s *Store) CreateAssistant(ctx context.Context, a *Assistant, audit ...*AuditEntry) error {
	t := now()
	a.CreatedAt, a.UpdatedAt = t, t
	if a.IdentitySecret == "" {
		a.IdentitySecret = NewIdentitySecret()
	}
	generated := a.PublicKey == ""
	if generated {
		a.PublicKey = NewPublicKey()
	}
	insert := func() error {
		return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := claimPhoneNumber(ctx, tx, a); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(a).Returning("id").Exec(ctx); err != nil {
				return err
			}
			if err := firstVersion(ctx, tx, a, Author{}); err != nil {
				return err
			}
			fillTarget(audit, a.ID)
			return insertAudit(ctx, tx, audit)
		})
	}
	err := insert()
	if err != nil && generated && IsUniqueViolation(err) && strings.Contains(err.Error(), "public_key") {
		// 96 random bits: a collision is all but impossible, but costs nothing to survive.
		a.PublicKey = NewPublicKey()
		err = insert()
	}
	return assistantWriteErr(err)
}

// Assistants lists a workspace's assistants by name.
func (s *Store) Assistants(ctx context.Context, workspaceID int64) ([]Assistant, error) {
	var as []Assistant
	err := s.DB.NewSelect().Model(&as).Where("workspace_id = ?", workspaceID).Order("name ASC", "id ASC").Scan(ctx)
	return as, err
}

// AssistantByID loads one assistant of the workspace.
func (s *Store) AssistantByID(ctx context.Context, workspaceID, id int64) (*Assistant, error) {
	a := new(Assistant)
	if err := s.DB.NewSelect().Model(a).Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return a, nil
}

// AssistantByPublicKey loads the assistant of a widget public key, whatever its workspace
// (the key is what the public widget presents).
func (s *Store) AssistantByPublicKey(ctx context.Context, publicKey string) (*Assistant, error) {
	a := new(Assistant)
	if err := s.DB.NewSelect().Model(a).Where("public_key = ?", publicKey).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return a, nil
}

// AssistantByPhoneNumberID loads the assistant connected to a WhatsApp phone number id,
// whatever its workspace (the id is what Meta's webhook names), when Meta confirmed the
// connection: an unconfirmed holder of the number is ErrNotFound here (see
// PhoneNumberHolder), so inbound messages reach only the number's proven owner.
func (s *Store) AssistantByPhoneNumberID(ctx context.Context, phoneNumberID string) (*Assistant, error) {
	a := new(Assistant)
	if phoneNumberID == "" {
		return nil, ErrNotFound
	}
	err := s.DB.NewSelect().Model(a).
		Where("whatsapp_phone_number_id = ? AND whatsapp_verified_at IS NOT NULL", phoneNumberID).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return a, nil
}

// PhoneNumberHolder loads the assistant that holds a WhatsApp phone number id, confirmed or
// not, whatever its workspace.
func (s *Store) PhoneNumberHolder(ctx context.Context, phoneNumberID string) (*Assistant, error) {
	a := new(Assistant)
	if phoneNumberID == "" {
		return nil, ErrNotFound
	}
	if err := s.DB.NewSelect().Model(a).Where("whatsapp_phone_number_id = ?", phoneNumberID).Scan(ctx); err != nil {
		return nil, notFound(err)
	}
	return a, nil
}

// ConfirmPhoneNumber records Meta's confirmation of an assistant's stored connection (one
// made before numbers were confirmed), provided the assistant still holds phoneNumberID with
// the token tokenEnc: ErrNotFound when it changed meanwhile.
func (s *Store) ConfirmPhoneNumber(ctx context.Context, workspaceID, id int64, phoneNumberID, tokenEnc, display, verifiedName string, at time.Time, audit ...*AuditEntry) error {
	return s.withAudit(ctx, audit, func(ctx context.Context, db bun.IDB) error {
		res, err := db.NewUpdate().Model((*Assistant)(nil)).
			Set("whatsapp_display_phone_number = ?", display).Set("whatsapp_verified_name = ?", verifiedName).
			Set("whatsapp_verified_at = ?", at).
			Where("id = ? AND workspace_id = ?", id, workspaceID).
			Where("whatsapp_phone_number_id = ? AND whatsapp_access_token_enc = ?", phoneNumberID, tokenEnc).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// claimPhoneNumber makes way for a's WhatsApp number before a is written, in the same
// transaction. A number belongs to whoever proves it: when a's connection is confirmed
// (WhatsAppVerifiedAt set), another assistant that holds the number confirmed, in any
// workspace, is ErrPhoneNumberTaken, and one that holds it unconfirmed (connected before
// numbers were confirmed, never proven) loses it. An unconfirmed a takes nothing: the unique
// index on whatsapp_phone_number_id refuses it when the number is held.
func claimPhoneNumber(ctx context.Context, db bun.IDB, a *Assistant) error {
	if a.WhatsAppPhoneNumberID == nil || *a.WhatsAppPhoneNumberID == "" || a.WhatsAppVerifiedAt == nil {
		return nil
	}
	pid := *a.WhatsAppPhoneNumberID
	n, err := db.NewSelect().Model((*Assistant)(nil)).
		Where("whatsapp_phone_number_id = ? AND id <> ? AND whatsapp_verified_at IS NOT NULL", pid, a.ID).Count(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return ErrPhoneNumberTaken
	}
	_, err = db.NewUpdate().Model((*Assistant)(nil)).
		Set("whatsapp_phone_number_id = NULL").Set("whatsapp_access_token_enc = ''").
		Set("whatsapp_display_phone_number = ''").Set("whatsapp_verified_name = ''").Set("whatsapp_verified_at = NULL").
		Set("updated_at = ?", now()).
		Where("whatsapp_phone_number_id = ? AND id <> ? AND whatsapp_verified_at IS NULL", pid, a.ID).Exec(ctx)
	return err
}

// assistantColumns are the columns UpdateAssistant writes: everything but the identity, the
// public key, the identity secret (RotateIdentitySecret), the creation time and the disabled
// flag.
var assistantColumns = []string{
	"name", "system_prompt", "first_message", "model", "temperature", "variables", "prechat_fields",
	"allowed_origins", "widget_settings", "whatsapp_phone_number_id", "whatsapp_access_token_enc", "updated_at",
	"whatsapp_display_phone_number", "whatsapp_verified_name", "whatsapp_verified_at",
	"identity_required",
	"evaluators",
	"csat_whatsapp",
	"publish_gate",
}

func (s *Store) updateAssistant(ctx context.Context, db bun.IDB, a *Assistant) error {
	a.UpdatedAt = now()
	if err := claimPhoneNumber(ctx, db, a); err != nil {
		return err
	}
	res, err := db.NewUpdate().Model(a).Column(assistantColumns...).
		Where("id = ? AND workspace_id = ?", a.ID, a.WorkspaceID).Exec(ctx)
	if err != nil {
		return assistantWriteErr(err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}

// UpdateAssistant writes an assistant's editable columns in one UPDATE, scoped to
// a.WorkspaceID; ErrNotFound when it is not there, ErrPhoneNumberTaken when its phone number
// id is connected elsewhere.
func (s *Store) UpdateAssistant(ctx context.Context, a *Assistant, audit ...*AuditEntry) error {
	return s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := s.updateAssistant(ctx, tx, a); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
}

// ModifyAssistant loads an assistant of the workspace (locking its row on PostgreSQL), lets fn
// change it, and writes it back in the same transaction, so concurrent edits do not lose each
// other's fields. When fn returns an error nothing is written and that error is returned.
// fn must not use the store: on SQLite the transaction holds the only connection. The audit
// entries given are written in the same transaction; fn may still change them (details).
func (s *Store) ModifyAssistant(ctx context.Context, workspaceID, id int64, fn func(a *Assistant) error, audit ...*AuditEntry) (*Assistant, error) {
	a := new(Assistant)
	err := s.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Model(a).Where("id = ? AND workspace_id = ?", id, workspaceID)
		if s.Dialect == Postgres {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return notFound(err)
		}
		if err := fn(a); err != nil {
			return err
		}
		a.ID, a.WorkspaceID = id, workspaceID
		if err := s.updateAssistant(ctx, tx, a); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DeleteAssistant deletes an assistant of the workspace. Its conversations stay, with
// assistant_id set to NULL by the foreign key.
// The audit entries given are written in the same transaction.
func (s *Store) DeleteAssistant(ctx context.Context, workspaceID, id int64, audit ...*AuditEntry) error {
	return s.withAudit(ctx, audit, func(ctx context.Context, db bun.IDB) error {
		res, err := db.NewDelete().Model((*Assistant)(nil)).Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
}
