package containertest

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Upload is a file field of a multipart form.
type Upload struct {
	Field, Name, Type string // form field, file name, Content-Type
	Data              []byte
}

// FormBody encodes fields as a browser posts a form: urlencoded, or with
// file (not nil) multipart/form-data, as a browser sends an upload. It
// returns the body and its Content-Type.
func FormBody(fields url.Values, file *Upload) (*bytes.Buffer, string, error) {
	var body bytes.Buffer
	if file == nil {
		body.WriteString(fields.Encode())
		return &body, "application/x-www-form-urlencoded", nil
	}
	w := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			if err := w.WriteField(k, v); err != nil {
				return nil, "", err
			}
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, file.Field, file.Name))
	h.Set("Content-Type", file.Type)
	part, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(file.Data); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return &body, w.FormDataContentType(), nil
}

// HiddenFields returns the named hidden inputs (a CSRF token, if the service
// uses one) of the form in doc that posts to action. pagePath is the page doc
// came from: a form without an action, or with a relative one, is resolved
// against it. A document that does not parse has none.
func HiddenFields(doc, pagePath, action string) url.Values {
	vals := url.Values{}
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return vals
	}
	base := &url.URL{Path: pagePath}
	for form := range root.Descendants() {
		if form.Type != html.ElementNode || form.Data != "form" {
			continue
		}
		target := base
		if a := attr(form, "action"); a != "" {
			if target, err = base.Parse(a); err != nil {
				continue
			}
		}
		if target.Path != action {
			continue
		}
		for in := range form.Descendants() {
			if in.Type == html.ElementNode && in.Data == "input" && strings.EqualFold(attr(in, "type"), "hidden") && attr(in, "name") != "" {
				vals.Add(attr(in, "name"), attr(in, "value"))
			}
		}
		break
	}
	return vals
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
