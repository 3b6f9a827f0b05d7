package whatsapp

import "strings"

// Content is what Parley stores of an inbound message: its text, and its WhatsApp type as the
// content type. Text, the title of an interactive reply (button or list), the text of a
// template button tap and the caption of an image, video or document are content. Any other
// type (audio, sticker, location, reaction, "unsupported", types Meta adds later) is stored
// with an empty content and its type, which the dashboard shows as "unsupported message (type)".
func Content(m *Message) (content, contentType string) {
	typ := strings.TrimSpace(m.Type)
	if typ == "" {
		typ = "unknown"
	}
	switch typ {
	case "text":
		if m.Text != nil {
			return m.Text.Body, "text"
		}
	case "interactive":
		if in := m.Interactive; in != nil {
			if in.ButtonReply != nil && in.ButtonReply.Title != "" {
				return in.ButtonReply.Title, typ
			}
			if in.ListReply != nil && in.ListReply.Title != "" {
				return in.ListReply.Title, typ
			}
		}
	case "button":
		if m.Button != nil && m.Button.Text != "" {
			return m.Button.Text, typ
		}
	case "image", "video", "document":
		var md *Media
		switch typ {
		case "image":
			md = m.Image
		case "video":
			md = m.Video
		default:
			md = m.Document
		}
		if md != nil && md.Caption != "" {
			return md.Caption, typ
		}
	}
	return "", typ
}
