-- WhatsApp message templates per WhatsApp number (issue 6): entered by hand or imported from
-- Meta's API (approved ones only). params names, in order, the conversation variables that
-- pre-fill {{1}}, {{2}}, ... when a human sends the template.
CREATE TABLE whatsapp_templates (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    assistant_id  BIGINT NOT NULL REFERENCES assistants(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    language      TEXT NOT NULL,
    category      TEXT NOT NULL,
    body          TEXT NOT NULL,
    params        TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT 'manual',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (assistant_id, name, language)
);
--bun:split
CREATE INDEX whatsapp_templates_ws_idx ON whatsapp_templates (workspace_id, assistant_id, name);
