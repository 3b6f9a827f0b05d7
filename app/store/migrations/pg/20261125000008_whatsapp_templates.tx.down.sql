DROP TABLE IF EXISTS whatsapp_templates;
