package assistants

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/model"
)

// FieldError is one invalid field, named by its path in the API's JSON: "name",
// "variables[2].type", "allowed_origins[0]".
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// Errors are the invalid fields of an update, in field order.
type Errors []FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Get is the first message for field ("" when the field is valid).
func (es Errors) Get(field string) string {
	for _, e := range es {
		if e.Field == field {
			return e.Msg
		}
	}
	return ""
}

// WithPrefix lists the errors whose field is prefix or starts with prefix followed by "[" or
// ".".
func (es Errors) WithPrefix(prefix string) Errors {
	var out Errors
	for _, e := range es {
		if e.Field == prefix || strings.HasPrefix(e.Field, prefix+"[") || strings.HasPrefix(e.Field, prefix+".") {
			out = append(out, e)
		}
	}
	return out
}

func (es *Errors) add(field, format string, args ...any) {
	*es = append(*es, FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Update is a complete set of new settings with, optionally, a new WhatsApp access token.
type Update struct {
	model.AssistantSettings
	// AccessToken is a new WhatsApp access token in plain text; "" keeps the stored one.
	// Without a phone number id, the connection (and the stored token) is removed.
	AccessToken string
	// Confirmed is what Meta said of the phone number when it confirmed the connection
	// (ConfirmWhatsApp); nil when Meta was not asked.
	Confirmed *model.WhatsAppNumber
}

var identRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
var colorRe = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// ValidName reports a variable or pre-chat field name: [a-z][a-z0-9_]{0,39}.
func ValidName(s string) bool { return identRe.MatchString(s) }

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func tooLong(s string, max int) bool { return utf8.RuneCountInString(s) > max }

// hasControl reports control characters other than newline, carriage return and tab.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' })
}

// Normalize trims text fields, lower-cases colours and origins, and fills empty lists.
func (u *Update) Normalize() {
	s := &u.AssistantSettings
	s.Name = strings.TrimSpace(s.Name)
	s.SystemPrompt = strings.TrimSpace(s.SystemPrompt)
	s.FirstMessage = strings.TrimSpace(s.FirstMessage)
	s.Model = strings.TrimSpace(s.Model)
	if s.Variables == nil {
		s.Variables = []model.Variable{}
	}
	for i := range s.Variables {
		v := &s.Variables[i]
		v.Name = strings.TrimSpace(v.Name)
		v.Description = strings.TrimSpace(v.Description)
		v.Type = strings.ToLower(strings.TrimSpace(v.Type))
		opts := []string{}
		for _, o := range v.Options {
			if o = strings.TrimSpace(o); o != "" {
				opts = append(opts, o)
			}
		}
		v.Options = opts
	}
	if s.PrechatFields == nil {
		s.PrechatFields = []model.PrechatField{}
	}
	for i := range s.PrechatFields {
		f := &s.PrechatFields[i]
		f.Name = strings.TrimSpace(f.Name)
		f.Label = strings.TrimSpace(f.Label)
		f.Type = strings.ToLower(strings.TrimSpace(f.Type))
		f.Variable = strings.TrimSpace(f.Variable)
		if f.Variable == f.Name {
			f.Variable = ""
		}
	}
	origins := []string{}
	for _, o := range s.AllowedOrigins {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	s.AllowedOrigins = origins
	s.Widget.Title = strings.TrimSpace(s.Widget.Title)
	s.Widget.Color = strings.ToLower(strings.TrimSpace(s.Widget.Color))
	s.WhatsAppPhoneNumberID = strings.TrimSpace(s.WhatsAppPhoneNumberID)
	s.Evaluators = normalizeEvaluators(s.Evaluators)
	u.AccessToken = strings.TrimSpace(u.AccessToken)
}

// Validate normalises u and checks every field; tokenStored says whether the assistant
// already has a WhatsApp access token. An empty result means u can be applied.
func (u *Update) Validate(tokenStored bool) Errors {
	u.Normalize()
	s := &u.AssistantSettings
	var es Errors
	switch {
	case s.Name == "":
		es.add("name", "is required")
	case tooLong(s.Name, MaxNameLen):
		es.add("name", "must be at most %d characters", MaxNameLen)
	case hasControl(s.Name) || strings.ContainsAny(s.Name, "\r\n\t"):
		es.add("name", "must be a single line without control characters")
	}
	if tooLong(s.SystemPrompt, MaxSystemPromptLen) {
		es.add("system_prompt", "must be at most %d characters", MaxSystemPromptLen)
	} else if hasControl(s.SystemPrompt) {
		es.add("system_prompt", "must not contain control characters")
	}
	if tooLong(s.FirstMessage, MaxFirstMessageLen) {
		es.add("first_message", "must be at most %d characters", MaxFirstMessageLen)
	} else if hasControl(s.FirstMessage) {
		es.add("first_message", "must not contain control characters")
	}
	switch {
	case s.Model == "":
		es.add("model", "is required")
	case tooLong(s.Model, MaxModelLen):
		es.add("model", "must be at most %d characters", MaxModelLen)
	case strings.ContainsFunc(s.Model, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		es.add("model", "must not contain spaces")
	}
	if math.IsNaN(s.Temperature) || s.Temperature < 0 || s.Temperature > MaxTemperature {
		es.add("temperature", "must be a number from 0 to 2")
	}
	es = append(es, validateVariables(s.Variables)...)
	es = append(es, validatePrechat(s.PrechatFields, s.Variables)...)
	es = append(es, validateOrigins(s.AllowedOrigins)...)
	if tooLong(s.Widget.Title, MaxTitleLen) {
		es.add("title", "must be at most %d characters", MaxTitleLen)
	} else if hasControl(s.Widget.Title) || strings.ContainsAny(s.Widget.Title, "\r\n\t") {
		es.add("title", "must be a single line without control characters")
	}
	if s.Widget.Color != "" && !colorRe.MatchString(s.Widget.Color) {
		es.add("color", "must be a colour like #1a2b3c")
	}
	es = append(es, validateEvaluators(s.Evaluators)...)
	es = append(es, u.validateWhatsApp(tokenStored)...)
	return es
}

func validateVariables(vs []model.Variable) Errors {
	var es Errors
	if len(vs) > MaxVariables {
		es.add("variables", "at most %d variables", MaxVariables)
		return es
	}
	seen := map[string]bool{}
	for i, v := range vs {
		p := fmt.Sprintf("variables[%d]", i)
		switch {
		case v.Name == "":
			es.add(p+".name", "is required")
		case !ValidName(v.Name):
			es.add(p+".name", "must start with a lower-case letter and use only a-z, 0-9 and _ (at most 40 characters)")
		case seen[v.Name]:
			es.add(p+".name", "%q is already used by another variable", v.Name)
		}
		seen[v.Name] = true
		if tooLong(v.Description, MaxDescriptionLen) {
			es.add(p+".description", "must be at most %d characters", MaxDescriptionLen)
		} else if hasControl(v.Description) {
			es.add(p+".description", "must not contain control characters")
		}
		if !slices.Contains(VariableTypes, v.Type) {
			es.add(p+".type", "must be one of %s", strings.Join(VariableTypes, ", "))
			continue
		}
		if v.Type != TypeEnum {
			if len(v.Options) > 0 {
				es.add(p+".options", "only enum variables have options")
			}
			continue
		}
		switch {
		case len(v.Options) == 0:
			es.add(p+".options", "an enum needs at least one option")
		case len(v.Options) > MaxOptions:
			es.add(p+".options", "at most %d options", MaxOptions)
		default:
			seenOpt := map[string]bool{}
			for _, o := range v.Options {
				if tooLong(o, MaxOptionLen) {
					es.add(p+".options", "each option must be at most %d characters", MaxOptionLen)
					break
				}
				if strings.Contains(o, ",") || hasControl(o) {
					es.add(p+".options", "an option must not contain commas or control characters")
					break
				}
				if seenOpt[o] {
					es.add(p+".options", "%q is listed twice", o)
					break
				}
				seenOpt[o] = true
			}
		}
	}
	return es
}

func validatePrechat(fs []model.PrechatField, vs []model.Variable) Errors {
	var es Errors
	if len(fs) > MaxPrechatFields {
		es.add("prechat_fields", "at most %d fields", MaxPrechatFields)
		return es
	}
	vars := map[string]bool{}
	for _, v := range vs {
		vars[v.Name] = true
	}
	seen, fills := map[string]bool{}, map[string]bool{}
	for i, f := range fs {
		p := fmt.Sprintf("prechat_fields[%d]", i)
		nameOK := false
		switch {
		case f.Name == "":
			es.add(p+".name", "is required")
		case !ValidName(f.Name):
			es.add(p+".name", "must start with a lower-case letter and use only a-z, 0-9 and _ (at most 40 characters)")
		case seen[f.Name]:
			es.add(p+".name", "%q is already used by another field", f.Name)
		default:
			nameOK = true
		}
		seen[f.Name] = true
		switch {
		case f.Label == "":
			es.add(p+".label", "is required")
		case tooLong(f.Label, MaxLabelLen):
			es.add(p+".label", "must be at most %d characters", MaxLabelLen)
		case hasControl(f.Label):
			es.add(p+".label", "must not contain control characters")
		}
		if !slices.Contains(PrechatTypes, f.Type) {
			es.add(p+".type", "must be one of %s", strings.Join(PrechatTypes, ", "))
		}
		if f.Variable == "" && !nameOK {
			continue // the name's error says it all
		}
		target := f.Fills()
		switch {
		case !vars[target] && f.Variable == "":
			es.add(p+".variable", "no variable named %q: add it to the variables or choose the variable this field fills", target)
		case !vars[target]:
			es.add(p+".variable", "no variable named %q", target)
		case fills[target]:
			es.add(p+".variable", "another field already fills %q", target)
		}
		fills[target] = true
	}
	return es
}

func validateOrigins(os []string) Errors {
	var es Errors
	if len(os) > MaxOrigins {
		es.add("allowed_origins", "at most %d origins", MaxOrigins)
		return es
	}
	seen := map[string]bool{}
	for i := range os {
		p := fmt.Sprintf("allowed_origins[%d]", i)
		n, err := NormalizeOrigin(os[i])
		if err != nil {
			es.add(p, "%q %s", os[i], err.Error())
			continue
		}
		if seen[n] {
			es.add(p, "%q is listed twice", n)
			continue
		}
		seen[n] = true
		os[i] = n
	}
	return es
}

type originError string

func (e originError) Error() string { return string(e) }

// NormalizeOrigin checks that s is an origin, scheme://host[:port] with an http or https
// scheme and nothing after the host (a single trailing slash is dropped), and returns it with
// scheme and host in lower case.
func NormalizeOrigin(s string) (string, error) {
	const shape = "must be an origin like https://shop.example.com or http://localhost:3000 (scheme, host and optional port, no path)"
	s = strings.TrimSuffix(strings.TrimSpace(s), "/")
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return "", originError(shape)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", originError("must start with http:// or https://")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.ContainsAny(host, " %*") {
		return "", originError(shape)
	}
	out := scheme + "://"
	if strings.Contains(host, ":") { // IPv6 literal
		out += "[" + host + "]"
	} else {
		out += host
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", originError("has an invalid port")
		}
		out += ":" + strconv.Itoa(n)
	} else if strings.HasSuffix(u.Host, ":") {
		return "", originError("has an empty port")
	}
	return out, nil
}

func (u *Update) validateWhatsApp(tokenStored bool) Errors {
	var es Errors
	id := u.WhatsAppPhoneNumberID
	if id == "" {
		if u.AccessToken != "" {
			es.add("whatsapp_phone_number_id", "is required with an access token")
		}
		return es
	}
	if !isDigits(id) {
		es.add("whatsapp_phone_number_id", "must be digits only (the phone number id from Meta, not the phone number)")
	} else if len(id) > MaxPhoneIDLen {
		es.add("whatsapp_phone_number_id", "must be at most %d digits", MaxPhoneIDLen)
	}
	switch {
	case u.AccessToken == "" && !tokenStored:
		es.add("whatsapp_access_token", "is required to connect a phone number")
	case len(u.AccessToken) > MaxAccessTokenLen:
		es.add("whatsapp_access_token", "must be at most %d characters", MaxAccessTokenLen)
	case strings.ContainsFunc(u.AccessToken, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		es.add("whatsapp_access_token", "must not contain spaces")
	}
	return es
}
