package model

// Variable is one piece of information an assistant must collect (an element of the
// assistants.variables JSON column, as the store decodes it).
type Variable struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Type        string   `json:"type"`
	Required    bool     `json:"required"`
	Options     []string `json:"options"` // enum only
}

// PrechatField is one input of the widget's pre-chat form; its value fills a Variable.
type PrechatField struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	Variable string `json:"variable"` // the variable it fills; "" means the variable named Name
	Required bool   `json:"required"`
}

// Fills is the name of the variable the field fills.
func (f PrechatField) Fills() string {
	if f.Variable != "" {
		return f.Variable
	}
	return f.Name
}

// Widget is the look of the web widget (the title and color keys of widget_settings).
type Widget struct {
	Title string `json:"title"`
	Color string `json:"color"` // #rrggbb, "" for the default
}

// VariableText is the type of a variable or pre-chat field that names none.
const VariableText = "text"
