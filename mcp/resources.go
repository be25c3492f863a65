package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Resource URIs. In them an instance id is percent-encoded: every byte but
// letters, digits and "-._~" (sub-orchestration ids hold "::").
const (
	// InstancesURI lists the newest instances.
	InstancesURI = "duroxide://instances"
	// InstanceURITemplate is one instance, as get_instance reports it.
	InstanceURITemplate = "duroxide://instances/{instance_id}"
	// HistoryURITemplate is the current execution's history, summarised.
	HistoryURITemplate = "duroxide://instances/{instance_id}/history"
)

const instancesPrefix = InstancesURI + "/"

// InstanceURI returns the resource URI of an instance.
func InstanceURI(id string) string { return instancesPrefix + escapeID(id) }

// escapeID percent-encodes an id for a URI template's simple expansion.
func escapeID(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// HistoryURI returns the resource URI of an instance's history.
func HistoryURI(id string) string { return InstanceURI(id) + "/history" }

func (s *Server) addResources() {
	s.srv.AddResource(&sdk.Resource{
		URI: InstancesURI, Name: "instances", Title: "Newest instances", MIMEType: "application/json",
		Description: "The 50 newest orchestration instances (as list_instances returns them).",
	}, s.readResource)
	s.srv.AddResourceTemplate(&sdk.ResourceTemplate{
		URITemplate: InstanceURITemplate, Name: "instance", Title: "Instance", MIMEType: "application/json",
		Description: "One instance: status, output or error, custom status, times, version, parent (as get_instance returns it). The id is percent-encoded (every byte but letters, digits and -._~).",
	}, s.readResource)
	s.srv.AddResourceTemplate(&sdk.ResourceTemplate{
		URITemplate: HistoryURITemplate, Name: "history", Title: "Instance history", MIMEType: "application/json",
		Description: "The current execution's history of an instance, one summary per event (as get_history returns it). The id is percent-encoded (every byte but letters, digits and -._~).",
	}, s.readResource)
}

// readResource serves every resource: the templates overlap, so the URI is
// parsed here rather than trusting which template matched.
func (s *Server) readResource(ctx context.Context, req *sdk.ReadResourceRequest) (res *sdk.ReadResourceResult, err error) {
	uri := req.Params.URI
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("read %s: internal error: %v", uri, r)
		}
	}()
	var v any
	switch {
	case uri == InstancesURI:
		v, err = s.listInstances(ctx, ListInstancesInput{})
	case strings.HasPrefix(uri, instancesPrefix):
		rest := strings.TrimPrefix(uri, instancesPrefix)
		rest, hist := strings.CutSuffix(rest, "/history")
		id, perr := url.PathUnescape(rest)
		if perr != nil || id == "" || strings.Contains(rest, "/") {
			return nil, sdk.ResourceNotFoundError(uri)
		}
		if hist {
			v, err = s.getHistory(ctx, HistoryInput{InstanceID: id, Limit: MaxHistoryLimit})
		} else {
			v, err = s.describe(ctx, id)
		}
	default:
		return nil, sdk.ResourceNotFoundError(uri)
	}
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("read %s: %v", uri, err)
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(b)}}}, nil
}
