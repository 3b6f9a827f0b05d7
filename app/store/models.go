package store

import (
	"time"

	"github.com/uptrace/bun"
)

type Workspace struct {
	bun.BaseModel `bun:"table:workspaces"`
	ID            int64     `bun:"id,pk,autoincrement"`
	Name          string    `bun:"name"`
	Settings      string    `bun:"settings"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

type User struct {
	bun.BaseModel `bun:"table:users"`
	ID            int64      `bun:"id,pk,autoincrement"`
	WorkspaceID   int64      `bun:"workspace_id"`
	Email         string     `bun:"email"`
	Name          string     `bun:"name"`
	PasswordHash  string     `bun:"password_hash"`
	Role          string     `bun:"role"`
	CreatedAt     time.Time  `bun:"created_at"`
	LastLoginAt   *time.Time `bun:"last_login_at"`
}

type APIKey struct {
	bun.BaseModel `bun:"table:api_keys"`
	ID            int64      `bun:"id,pk,autoincrement"`
	WorkspaceID   int64      `bun:"workspace_id"`
	Name          string     `bun:"name"`
	Prefix        string     `bun:"prefix"`
	KeyHash       string     `bun:"key_hash"`
	Scope         string     `bun:"scope"` // model.ScopeRead or model.ScopeWrite
	CreatedBy     *int64     `bun:"created_by"`
	CreatedAt     time.Time  `bun:"created_at"`
	LastUsedAt    *time.Time `bun:"last_used_at"`
	RevokedAt     *time.Time `bun:"revoked_at"`

	// The creator's name and email (APIKeys only; empty when no user created the key, or
	// the user is gone).
	CreatorName  string `bun:"creator_name,scanonly"`
	CreatorEmail string `bun:"creator_email,scanonly"`
}

type Assistant struct {
	bun.BaseModel          `bun:"table:assistants"`
	ID                     int64          `bun:"id,pk,autoincrement"`
	WorkspaceID            int64          `bun:"workspace_id"`
	Name                   string         `bun:"name"`
	SystemPrompt           string         `bun:"system_prompt"`
	FirstMessage           string         `bun:"first_message"`
	Model                  string         `bun:"model"`
	Temperature            float64        `bun:"temperature"`
	Variables              Variables      `bun:"variables"`
	PrechatFields          PrechatFields  `bun:"prechat_fields"`
	AllowedOrigins         Origins        `bun:"allowed_origins"`
	WidgetSettings         WidgetSettings `bun:"widget_settings"`
	PublicKey              string         `bun:"public_key"`
	WhatsAppPhoneNumberID  *string        `bun:"whatsapp_phone_number_id"`
	WhatsAppAccessTokenEnc string         `bun:"whatsapp_access_token_enc"`
	Disabled               bool           `bun:"disabled"`
	CreatedAt              time.Time      `bun:"created_at"`
	UpdatedAt              time.Time      `bun:"updated_at"`

	// What Meta confirmed of the WhatsApp number (display number, verified business name)
	// and when; WhatsAppVerifiedAt is nil for a connection Meta has not confirmed.
	WhatsAppDisplayPhoneNumber string     `bun:"whatsapp_display_phone_number"`
	WhatsAppVerifiedName       string     `bun:"whatsapp_verified_name"`
	WhatsAppVerifiedAt         *time.Time `bun:"whatsapp_verified_at"`

	// IdentitySecret signs a site's visitor ids (the widget's identity verification);
	// IdentityRequired refuses visitor ids that are not signed with it.
	IdentitySecret   string `bun:"identity_secret"`
	IdentityRequired bool   `bun:"identity_required"`

	// Evaluators are the assistant's custom evaluators (the built-in ones are
	// model.BuiltinEvaluators); CSATWhatsApp asks WhatsApp customers for a CSAT score at a
	// conversation's end while the window is open.
	Evaluators   Evaluators `bun:"evaluators"`
	CSATWhatsApp bool       `bun:"csat_whatsapp"`

	// Versions (issue 15): the row's behaviour columns (system prompt, first message, model,
	// temperature, variables, evaluators) are a copy of the published version's; the draft is
	// the unpublished version edits go to (0: none). PublishGate: publishing needs a test set
	// run of the version that did not regress against the published one.
	PublishedVersion int  `bun:"published_version"`
	DraftVersion     int  `bun:"draft_version"`
	PublishGate      bool `bun:"publish_gate"`
	// Pinned, when not 0, is the version whose behaviour this copy of the row holds instead
	// of the published one (AssistantVersion.Overlay); never stored.
	Pinned int `bun:"-"`
}

// AnsweringVersion is the version whose behaviour the row holds: the pinned one of an
// overlaid copy, else the published one (0 before versions existed).
func (a *Assistant) AnsweringVersion() int {
	if a.Pinned != 0 {
		return a.Pinned
	}
	return a.PublishedVersion
}

type Conversation struct {
	bun.BaseModel      `bun:"table:conversations"`
	ID                 int64      `bun:"id,pk,autoincrement"`
	WorkspaceID        int64      `bun:"workspace_id"`
	AssistantID        *int64     `bun:"assistant_id"`
	Type               string     `bun:"type"`
	Customer           string     `bun:"customer"`
	CustomerName       string     `bun:"customer_name"`
	StartedAt          time.Time  `bun:"started_at"`
	LastMessageAt      time.Time  `bun:"last_message_at"`
	LastInboundAt      *time.Time `bun:"last_inbound_at"`
	LastMessagePreview string     `bun:"last_message_preview"`
	LastMessageRole    string     `bun:"last_message_role"`
	MessageCount       int        `bun:"message_count"`
	UserMessageCount   int        `bun:"user_message_count"`
	PromptTokens       int64      `bun:"prompt_tokens"`
	CachedTokens       int64      `bun:"cached_tokens"`
	CompletionTokens   int64      `bun:"completion_tokens"`
	CostNanos          int64      `bun:"cost_nanos"`
	Charged            bool       `bun:"charged"`
	Variables          string     `bun:"variables"` // JSON object name -> value, kept current for list chips
	WindowExpiresAt    *time.Time `bun:"window_expires_at"`
	WindowClosedAt     *time.Time `bun:"window_closed_at"`
	AIEnabled          bool       `bun:"ai_enabled"`
	AIChangedBy        string     `bun:"ai_changed_by"` // who last took over or handed back (a person's name)
	AIChangedAt        *time.Time `bun:"ai_changed_at"`
	EndedAt            *time.Time `bun:"ended_at"`
	LastError          string     `bun:"last_error"`
	// AssistantVersion is the assistant version the conversation started with (nil before
	// versions existed); a Test Chat conversation is answered by it throughout.
	AssistantVersion *int `bun:"assistant_version"`

	// The end: why it ended (model.EndReasons, "" while open) and how many ends it has had
	// (the current end's conversation_ends.seq while it is ended).
	EndReason string `bun:"end_reason"`
	EndCount  int    `bun:"end_count"`
	// The latest evaluation's built-in values ("" and nil before one), and its status
	// (model.EvalPending, EvalDone, EvalFailed; "" before the first end).
	Summary          string `bun:"summary"`
	Outcome          string `bun:"outcome"`
	Sentiment        string `bun:"sentiment"`
	CSATEstimate     *int   `bun:"csat_estimate"`
	Language         string `bun:"language"`
	EvaluationStatus string `bun:"evaluation_status"`
	// The customer's own CSAT (the latest), and the end it answered (once per end).
	CSATScore   *int       `bun:"csat_score"`
	CSATComment string     `bun:"csat_comment"`
	CSATAt      *time.Time `bun:"csat_at"`
	CSATEnd     int        `bun:"csat_end"`
	// The review: model.ReviewStatuses, who set it (id, and name as it was) and when; the
	// member it is assigned to.
	ReviewStatus string     `bun:"review_status"`
	ReviewedByID *int64     `bun:"reviewed_by_id"`
	ReviewedBy   string     `bun:"reviewed_by"`
	ReviewedAt   *time.Time `bun:"reviewed_at"`
	AssigneeID   *int64     `bun:"assignee_id"`
	// The parts of CostNanos spent on extraction and evaluation; the rest is replies.
	CostExtractionNanos int64     `bun:"cost_extraction_nanos"`
	CostEvaluationNanos int64     `bun:"cost_evaluation_nanos"`
	CreatedAt           time.Time `bun:"created_at"`
	UpdatedAt           time.Time `bun:"updated_at"`

	AssistantName string `bun:"assistant_name,scanonly"`
}

type Message struct {
	bun.BaseModel     `bun:"table:messages"`
	ID                int64      `bun:"id,pk,autoincrement"`
	WorkspaceID       int64      `bun:"workspace_id"`
	ConversationID    int64      `bun:"conversation_id"`
	Role              string     `bun:"role"`
	Content           string     `bun:"content"`
	ContentType       string     `bun:"content_type"`
	CreatedAt         time.Time  `bun:"created_at"`
	ProviderMessageID *string    `bun:"provider_message_id"`
	Status            string     `bun:"status"`
	StatusError       string     `bun:"status_error"`
	StatusUpdatedAt   *time.Time `bun:"status_updated_at"`
	PromptTokens      int        `bun:"prompt_tokens"`
	CachedTokens      int        `bun:"cached_tokens"`
	CompletionTokens  int        `bun:"completion_tokens"`
	CostNanos         int64      `bun:"cost_nanos"`
	Error             string     `bun:"error"`
	// AuthorID and AuthorName are the person of the team who sent a "human" message (the
	// name as it was then); nil and "" for everything else.
	AuthorID   *int64 `bun:"author_id"`
	AuthorName string `bun:"author_name"`
	// AssistantVersion is the assistant version that wrote an assistant message (nil for
	// other roles and for messages written before versions existed).
	AssistantVersion *int `bun:"assistant_version"`
	// Answers, when set on a reply being stored, is the customer message it answers: the
	// intent to answer that message (pending_replies) is done in the same transaction.
	Answers int64 `bun:"-"`
}

type ConversationVariable struct {
	bun.BaseModel  `bun:"table:conversation_variables"`
	ID             int64     `bun:"id,pk,autoincrement"`
	WorkspaceID    int64     `bun:"workspace_id"`
	ConversationID int64     `bun:"conversation_id"`
	Name           string    `bun:"name"`
	Value          string    `bun:"value"`
	Source         string    `bun:"source"`
	MessageID      *int64    `bun:"message_id"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

type UsageEntry struct {
	bun.BaseModel    `bun:"table:usage_ledger"`
	ID               int64      `bun:"id,pk,autoincrement"`
	WorkspaceID      int64      `bun:"workspace_id"`
	ConversationID   *int64     `bun:"conversation_id"`
	MessageID        *int64     `bun:"message_id"`
	AssistantID      *int64     `bun:"assistant_id"`
	ConversationType string     `bun:"conversation_type"`
	RequestID        string     `bun:"request_id"`
	Purpose          string     `bun:"purpose"`
	Model            string     `bun:"model"`
	PromptTokens     int        `bun:"prompt_tokens"`
	CachedTokens     int        `bun:"cached_tokens"`
	CompletionTokens int        `bun:"completion_tokens"`
	CostNanos        int64      `bun:"cost_nanos"`
	PriceEntry       string     `bun:"price_entry"`
	Charged          bool       `bun:"charged"`
	CreatedAt        time.Time  `bun:"created_at"`
	TalliedAt        *time.Time `bun:"tallied_at"`
	// ReplayID is the replay a PurposeReplay row was spent on.
	ReplayID *int64 `bun:"replay_id"`
}

type InboundEvent struct {
	bun.BaseModel `bun:"table:inbound_events"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Provider      string `bun:"provider"`
	ProviderID    string `bun:"provider_id"`
	Kind          string `bun:"kind"`
	WorkspaceID   *int64 `bun:"workspace_id"`
	// ConversationID is the conversation the event was processed into (deleting it deletes
	// the event); nil until then, and for events that belong to none.
	ConversationID *int64     `bun:"conversation_id"`
	Payload        string     `bun:"payload"`
	RequestID      string     `bun:"request_id"`
	ReceivedAt     time.Time  `bun:"received_at"`
	ProcessedAt    *time.Time `bun:"processed_at"`
	Attempts       int        `bun:"attempts"`
	LastError      string     `bun:"last_error"`
}

// ConversationEnd is one end of a conversation: the outbox of what an end promises (its
// evaluation, the WhatsApp CSAT question), written in the transaction that ends it.
type ConversationEnd struct {
	bun.BaseModel  `bun:"table:conversation_ends"`
	ID             int64      `bun:"id,pk,autoincrement"`
	WorkspaceID    int64      `bun:"workspace_id"`
	ConversationID int64      `bun:"conversation_id"`
	Seq            int        `bun:"seq"` // 1 for the first end, then 2, ...
	Reason         string     `bun:"reason"`
	EndedAt        time.Time  `bun:"ended_at"`
	EvaluatedAt    *time.Time `bun:"evaluated_at"`
	CSATSentAt     *time.Time `bun:"csat_sent_at"`
}

// EvaluationRun is one evaluation of a conversation's end: unique per (conversation, end,
// evaluators version, run), run 0 being the automatic one and 1, 2, ... "Evaluate again".
type EvaluationRun struct {
	bun.BaseModel     `bun:"table:evaluation_runs"`
	ID                int64      `bun:"id,pk,autoincrement"`
	WorkspaceID       int64      `bun:"workspace_id"`
	ConversationID    int64      `bun:"conversation_id"`
	EndSeq            int        `bun:"end_seq"`
	Run               int        `bun:"run"`
	EvaluatorsVersion int        `bun:"evaluators_version"`
	Status            string     `bun:"status"`   // model.EvalPending, EvalDone, EvalFailed
	Provider          string     `bun:"provider"` // the model that answered, or "offline"
	RequestID         string     `bun:"request_id"`
	Error             string     `bun:"error"`
	CostNanos         int64      `bun:"cost_nanos"`
	CreatedAt         time.Time  `bun:"created_at"`
	FinishedAt        *time.Time `bun:"finished_at"`
}

// EvaluationValue is one evaluator's answer in a run. Latest marks the values of the
// conversation's latest finished run (what the filters read).
type EvaluationValue struct {
	bun.BaseModel    `bun:"table:evaluation_values"`
	ID               int64   `bun:"id,pk,autoincrement"`
	WorkspaceID      int64   `bun:"workspace_id"`
	ConversationID   int64   `bun:"conversation_id"`
	RunID            int64   `bun:"run_id"`
	Name             string  `bun:"name"`
	Builtin          bool    `bun:"builtin"`
	Value            *string `bun:"value"` // booleans "true"/"false", ratings "1".."5"
	Reason           string  `bun:"reason"`
	Status           string  `bun:"status"`
	Error            string  `bun:"error"`
	EvaluatorVersion int     `bun:"evaluator_version"`
	Latest           bool    `bun:"latest"`
}

// Tag is a workspace's label; NameKey is the lower-cased name (unique per workspace).
type Tag struct {
	bun.BaseModel `bun:"table:tags"`
	ID            int64     `bun:"id,pk,autoincrement"`
	WorkspaceID   int64     `bun:"workspace_id"`
	Name          string    `bun:"name"`
	NameKey       string    `bun:"name_key"`
	Color         string    `bun:"color"`
	CreatedAt     time.Time `bun:"created_at"`
}

// ConversationTag puts a tag on a conversation.
type ConversationTag struct {
	bun.BaseModel  `bun:"table:conversation_tags"`
	WorkspaceID    int64     `bun:"workspace_id"`
	ConversationID int64     `bun:"conversation_id,pk"`
	TagID          int64     `bun:"tag_id,pk"`
	CreatedAt      time.Time `bun:"created_at"`
}

// Note is an internal note on a conversation, or on one of its messages; never shown to the
// customer.
type Note struct {
	bun.BaseModel  `bun:"table:notes"`
	ID             int64     `bun:"id,pk,autoincrement"`
	WorkspaceID    int64     `bun:"workspace_id"`
	ConversationID int64     `bun:"conversation_id"`
	MessageID      *int64    `bun:"message_id"`
	AuthorID       *int64    `bun:"author_id"`
	AuthorName     string    `bun:"author_name"`
	Text           string    `bun:"text"`
	CreatedAt      time.Time `bun:"created_at"`
}

// MessageFeedback is the customer's thumbs up or down on an assistant message.
type MessageFeedback struct {
	bun.BaseModel  `bun:"table:message_feedback"`
	MessageID      int64     `bun:"message_id,pk"`
	WorkspaceID    int64     `bun:"workspace_id"`
	ConversationID int64     `bun:"conversation_id"`
	Rating         string    `bun:"rating"` // model.FeedbackUp, FeedbackDown
	Comment        string    `bun:"comment"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

// Correction is a reviewer's "bad answer" mark on an assistant message, with the answer it
// should have given.
type Correction struct {
	bun.BaseModel  `bun:"table:corrections"`
	MessageID      int64     `bun:"message_id,pk"`
	WorkspaceID    int64     `bun:"workspace_id"`
	ConversationID int64     `bun:"conversation_id"`
	AuthorID       *int64    `bun:"author_id"`
	AuthorName     string    `bun:"author_name"`
	Text           string    `bun:"text"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

// SavedView is a named filter set (the list's URL query), personal (UserID set) or shared
// with the workspace (UserID nil). Builtin names an out-of-the-box view ("" for others).
type SavedView struct {
	bun.BaseModel `bun:"table:saved_views"`
	ID            int64     `bun:"id,pk,autoincrement"`
	WorkspaceID   int64     `bun:"workspace_id"`
	UserID        *int64    `bun:"user_id"`
	Name          string    `bun:"name"`
	Query         string    `bun:"query"`
	Builtin       string    `bun:"builtin"`
	Position      int       `bun:"position"`
	CreatedAt     time.Time `bun:"created_at"`
}
