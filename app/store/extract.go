package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Variable sources (conversation_variables.source).
const (
	VariableSourcePrechat   = "prechat"
	VariableSourceExtracted = "extracted"
	VariableSourceAPI       = "api"
)

// ExtractionErrorPrefix starts the conversation's last_error when variable extraction failed.
const ExtractionErrorPrefix = "Variable extraction failed: "

// ExtractionState is what the last extraction of a conversation did (conversation_extractions).
type ExtractionState struct {
	bun.BaseModel  `bun:"table:conversation_extractions"`
	ConversationID int64      `bun:"conversation_id,pk"`
	WorkspaceID    int64      `bun:"workspace_id"`
	LastMessageID  int64      `bun:"last_message_id"` // the newest customer message an extraction has read
	Runs           int64      `bun:"runs"`
	LLMCalls       int64      `bun:"llm_calls"`
	Error          string     `bun:"error"` // the last run's error, "" when it succeeded
	ErrorAt        *time.Time `bun:"error_at"`
	ExtractedAt    time.Time  `bun:"extracted_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`
}

// ExtractionStateOf returns a conversation's extraction state, or ErrNotFound when none ran.
func (s *Store) ExtractionStateOf(ctx context.Context, workspaceID, conversationID int64) (*ExtractionState, error) {
	st := new(ExtractionState)
	err := s.DB.NewSelect().Model(st).Where("conversation_id = ? AND workspace_id = ?", conversationID, workspaceID).Scan(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return st, nil
}

// ExtractedValue is one value an extraction found, with the message it came from.
type ExtractedValue struct {
	Name      string
	Value     string
	MessageID int64 // 0 when unknown
}

// ExtractionUpdate is the outcome of one extraction run, applied by ApplyExtraction.
type ExtractionUpdate struct {
	WorkspaceID    int64
	ConversationID int64
	Values         []ExtractedValue
	// Usage is the ledger row of the LLM call, nil when the run made none. Its tokens and cost
	// are added to the conversation's totals (no message carries them).
	Usage *UsageEntry
	// LastMessageID is the newest customer message the run read.
	LastMessageID int64
	// Error is what went wrong ("" clears the previous error).
	Error string
}

// ExtractionOutcome is what ApplyExtraction wrote.
type ExtractionOutcome struct {
	Changed []string // variables whose value was written, by name
	// Replayed is true when Usage's request id was recorded before: that run applied its
	// values in the same transaction, so nothing was written again.
	Replayed bool
}

// ApplyExtraction stores an extraction run in one transaction: the LLM call's ledger row
// (once per request id) with its usage added to the conversation's totals, the values, the
// conversation's variables object, the run's state and error.
//
// The provenance rules hold in the upsert itself, so that concurrent writers cannot break
// them: a value from the pre-chat form or the API is never overwritten by an extraction; an
// extracted value is replaced by a different one only when that comes from the same or a
// later message (the latest message wins, so a customer's correction replaces an earlier
// value, and a stale run cannot undo it). An unchanged value keeps its message and updated_at.
func (s *Store) ApplyExtraction(ctx context.Context, u ExtractionUpdate) (ExtractionOutcome, error) {
	var out ExtractionOutcome
	err := s.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		out = ExtractionOutcome{}
		if err := s.lockConversation(ctx, tx, u.WorkspaceID, u.ConversationID); err != nil {
			return err
		}
		t := now()
		llmCalls := 0
		if e := u.Usage; e != nil {
			if e.WorkspaceID != u.WorkspaceID || e.ConversationID == nil || *e.ConversationID != u.ConversationID {
				return ErrUsageEntryInvalid
			}
			inserted, err := insertUsage(ctx, tx, e)
			if err != nil {
				return err
			}
			if !inserted {
				out.Replayed = true
				return nil
			}
			llmCalls = 1
			if err := addUsageToConversation(ctx, tx, e); err != nil {
				return err
			}
		}
		vals := append([]ExtractedValue(nil), u.Values...)
		sort.Slice(vals, func(i, j int) bool { return vals[i].Name < vals[j].Name })
		for _, v := range vals {
			if strings.TrimSpace(v.Name) == "" || strings.TrimSpace(v.Value) == "" {
				continue
			}
			var msg *int64
			if v.MessageID > 0 {
				m := v.MessageID
				msg = &m
			}
			res, err := tx.NewRaw(`INSERT INTO conversation_variables (workspace_id, conversation_id, name, value, source, message_id, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (conversation_id, name) DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source,
					message_id = EXCLUDED.message_id, updated_at = EXCLUDED.updated_at
				WHERE conversation_variables.source = ? AND conversation_variables.value <> EXCLUDED.value
					AND (conversation_variables.message_id IS NULL OR EXCLUDED.message_id IS NULL OR conversation_variables.message_id <= EXCLUDED.message_id)`,
				u.WorkspaceID, u.ConversationID, v.Name, truncate(v.Value, 1000), VariableSourceExtracted, msg, t, t, VariableSourceExtracted).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				out.Changed = append(out.Changed, v.Name)
			}
		}
		if len(out.Changed) > 0 {
			if err := s.refreshVariablesObject(ctx, tx, u.WorkspaceID, u.ConversationID, t); err != nil {
				return err
			}
		}
		var errAt *time.Time
		if u.Error != "" {
			errAt = &t
		}
		if _, err := tx.NewRaw(`INSERT INTO conversation_extractions (conversation_id, workspace_id, last_message_id, runs, llm_calls, error, error_at, extracted_at, updated_at)
			VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)
			ON CONFLICT (conversation_id) DO UPDATE SET
				last_message_id = CASE WHEN EXCLUDED.last_message_id > conversation_extractions.last_message_id THEN EXCLUDED.last_message_id ELSE conversation_extractions.last_message_id END,
				runs = conversation_extractions.runs + 1, llm_calls = conversation_extractions.llm_calls + EXCLUDED.llm_calls,
				error = EXCLUDED.error, error_at = EXCLUDED.error_at, extracted_at = EXCLUDED.extracted_at, updated_at = EXCLUDED.updated_at`,
			u.ConversationID, u.WorkspaceID, u.LastMessageID, llmCalls, truncate(u.Error, 1000), errAt, t, t).Exec(ctx); err != nil {
			return err
		}
		// The conversation page shows last_error: say that extraction failed, without hiding
		// another error (a failed reply) that is there already; clear it once extraction works.
		q := tx.NewUpdate().Model((*Conversation)(nil)).Where("id = ? AND workspace_id = ?", u.ConversationID, u.WorkspaceID)
		if u.Error != "" {
			q = q.Set("last_error = ?", truncate(ExtractionErrorPrefix+u.Error, 1000)).
				Where("(last_error = '' OR last_error LIKE ?)", ExtractionErrorPrefix+"%")
		} else {
			q = q.Set("last_error = ''").Where("last_error LIKE ?", ExtractionErrorPrefix+"%")
		}
		_, err := q.Exec(ctx)
		return err
	})
	if err != nil {
		return ExtractionOutcome{}, err
	}
	return out, nil
}

// refreshVariablesObject rebuilds the conversation's variables object (the list's chips) from
// its variables, with the conversation row locked.
func (s *Store) refreshVariablesObject(ctx context.Context, tx bun.IDB, workspaceID, conversationID int64, t time.Time) error {
	sel := tx.NewSelect().Model((*Conversation)(nil)).Column("id").Where("id = ? AND workspace_id = ?", conversationID, workspaceID)
	if s.Dialect == Postgres {
		sel = sel.For("UPDATE")
	}
	var id int64
	if err := sel.Scan(ctx, &id); err != nil {
		return notFound(err)
	}
	var vs []ConversationVariable
	if err := tx.NewSelect().Model(&vs).Column("name", "value").Where("conversation_id = ?", conversationID).Scan(ctx); err != nil {
		return err
	}
	obj := make(map[string]string, len(vs))
	for _, v := range vs {
		obj[v.Name] = v.Value
	}
	b, _ := json.Marshal(obj)
	_, err := tx.NewUpdate().Model((*Conversation)(nil)).Set("variables = ?", string(b)).Set("updated_at = ?", t).
		Where("id = ? AND workspace_id = ?", conversationID, workspaceID).Exec(ctx)
	return err
}

// ConversationRef names a conversation.
type ConversationRef struct {
	ID          int64 `bun:"id"`
	WorkspaceID int64 `bun:"workspace_id"`
}

// EndedWithoutFinalExtraction lists up to limit conversations that ended since a time and
// whose last extraction (if any) ran before they ended: each gets one more extraction.
func (s *Store) EndedWithoutFinalExtraction(ctx context.Context, since time.Time, limit int) ([]ConversationRef, error) {
	var out []ConversationRef
	err := s.DB.NewRaw(`SELECT c.id, c.workspace_id FROM conversations AS c
		LEFT JOIN conversation_extractions AS x ON x.conversation_id = c.id
		WHERE c.ended_at IS NOT NULL AND c.ended_at >= ? AND (x.extracted_at IS NULL OR x.extracted_at < c.ended_at)
		ORDER BY c.ended_at ASC LIMIT ?`, since.UTC(), limit).Scan(ctx, &out)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return out, err
}

// hasRequiredSQL holds for a conversation "c" whose assistant declares at least one required
// variable; missingRequiredSQL for one where such a variable has no (non-blank) value yet.
// The required variables live in the assistant's JSON column: this is the one place that
// reads it in SQL (jsonb on PostgreSQL, json_each on SQLite).
func (s *Store) hasRequiredSQL() string {
	return "EXISTS (SELECT 1 " + s.requiredVarsFrom() + ")"
}

func (s *Store) missingRequiredSQL() string {
	name := "json_extract(rv.value, '$.name')"
	if s.Dialect == Postgres {
		name = "rv.x->>'name'"
	}
	return "EXISTS (SELECT 1 " + s.requiredVarsFrom() + ` AND NOT EXISTS (SELECT 1 FROM conversation_variables AS cv
		WHERE cv.conversation_id = c.id AND cv.name = ` + name + ` AND cv.value <> ''))`
}

func (s *Store) requiredVarsFrom() string {
	if s.Dialect == Postgres {
		return `FROM assistants AS ra CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(ra.variables::jsonb) = 'array' THEN ra.variables::jsonb ELSE '[]'::jsonb END) AS rv(x)
			WHERE ra.id = c.assistant_id AND ra.workspace_id = c.workspace_id AND rv.x->>'required' = 'true'`
	}
	return `FROM assistants AS ra, json_each(CASE WHEN json_valid(ra.variables) THEN CASE WHEN json_type(ra.variables) = 'array' THEN ra.variables ELSE '[]' END ELSE '[]' END) AS rv
		WHERE ra.id = c.assistant_id AND ra.workspace_id = c.workspace_id AND json_extract(rv.value, '$.required') = 1`
}

// MissingRequiredCondition is the SQL condition (over "conversations AS c") of the list's
// "missing a required variable" filter.
func (s *Store) MissingRequiredCondition() string { return s.missingRequiredSQL() }
