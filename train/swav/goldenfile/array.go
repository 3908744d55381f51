package goldenfile

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Array is a JSON array of numbers nested to any depth, flattened row-major.
// A JSON null (the golden file's marker of a non-finite reference value)
// gives Null = true and no data.
type Array struct {
	Shape []int
	Data  []float64
	Null  bool
	raw   []byte // undecoded JSON until decode names the field
}

// UnmarshalJSON keeps the JSON for decode, which Parse calls with the
// field's name so that errors say where they are.
func (a *Array) UnmarshalJSON(b []byte) error {
	*a = Array{}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		a.Null = true
		return nil
	}
	a.raw = append([]byte(nil), b...)
	return nil
}

// present reports whether the field was in the file (null included).
func (a *Array) present() bool { return a.Null || a.raw != nil || a.Shape != nil }

// decode parses the kept JSON as a rectangular nested array of numbers;
// errors are prefixed with field.
func (a *Array) decode(field string) error {
	if a.raw == nil {
		return nil
	}
	raw := a.raw
	a.raw = nil
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	shape, err := shapeOf(v)
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	a.Shape = shape
	if err := a.flatten(v, shape, ""); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// shapeOf reads the shape from the first element at each depth.
func shapeOf(v any) ([]int, error) {
	var shape []int
	for {
		switch x := v.(type) {
		case []any:
			shape = append(shape, len(x))
			if len(x) == 0 {
				return shape, nil
			}
			v = x[0]
		case json.Number:
			return shape, nil
		case nil:
			return nil, fmt.Errorf("null inside an array (only whole arrays may be null)")
		default:
			return nil, fmt.Errorf("element of type %T, want a number or an array", v)
		}
	}
}

func (a *Array) flatten(v any, shape []int, at string) error {
	if len(shape) == 0 {
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("element%s: %s where a number was expected", at, describe(v))
		}
		f, err := n.Float64()
		if err != nil {
			return fmt.Errorf("element%s: %w", at, err)
		}
		a.Data = append(a.Data, f)
		return nil
	}
	x, ok := v.([]any)
	if !ok {
		return fmt.Errorf("element%s: %s where an array of %d was expected", at, describe(v), shape[0])
	}
	if len(x) != shape[0] {
		return fmt.Errorf("element%s: %d entries, want %d (ragged array)", at, len(x), shape[0])
	}
	for i, e := range x {
		if err := a.flatten(e, shape[1:], fmt.Sprintf("%s[%d]", at, i)); err != nil {
			return err
		}
	}
	return nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case json.Number:
		return "a number"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// is reports whether the array has exactly the given shape.
func (a *Array) is(shape ...int) bool {
	if a.Null || len(a.Shape) != len(shape) {
		return false
	}
	for i, d := range shape {
		if a.Shape[i] != d {
			return false
		}
	}
	return true
}

// want returns an error naming field when the array is null or not of shape.
func (a *Array) want(field string, shape ...int) error {
	if err := a.decode(field); err != nil {
		return err
	}
	if a.Null {
		return fmt.Errorf("%s: null, want an array of shape %v", field, shape)
	}
	if !a.is(shape...) {
		return fmt.Errorf("%s: shape %v, want %v", field, a.Shape, shape)
	}
	return nil
}

// Numel is the number of values.
func (a *Array) Numel() int { return len(a.Data) }
