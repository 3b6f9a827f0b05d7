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
	CreatedAt          time.Time  `bun:"created_at"`
	UpdatedAt          time.Time  `bun:"updated_at"`

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
