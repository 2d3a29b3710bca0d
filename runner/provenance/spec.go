package provenance

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Field names the specs define, per object: in-toto Statement v1
// (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md),
// ResourceDescriptor v1 (…/spec/v1/resource_descriptor.md) and SLSA
// provenance v1 (https://slsa.dev/spec/v1.0/provenance). true marks a
// required field.
var specFields = map[string]map[string]bool{
	"envelope":        {"payloadType": true, "payload": true, "signatures": true},
	"signature":       {"keyid": false, "sig": true},
	"statement":       {"_type": true, "subject": true, "predicateType": true, "predicate": false},
	"descriptor":      {"name": false, "uri": false, "digest": false, "content": false, "downloadLocation": false, "mediaType": false, "annotations": false},
	"predicate":       {"buildDefinition": true, "runDetails": true},
	"buildDefinition": {"buildType": true, "externalParameters": true, "internalParameters": false, "resolvedDependencies": false},
	"runDetails":      {"builder": true, "metadata": false, "byproducts": false},
	"builder":         {"id": true, "builderDependencies": false, "version": false},
	"metadata":        {"invocationId": false, "startedOn": false, "finishedOn": false},
}

// CheckShape checks a provenance document against the specs' field names
// and required fields: no field the spec does not define, every required
// one present, every resource descriptor with a uri, digest or content,
// every subject with a digest, and times in RFC 3339. A DSSE envelope
// (what bootstrap writes) is checked as DSSE defines it (payloadType,
// base64 payload, signatures with keyid and sig; not the signature itself:
// VerifyFile does that) and then its payload. It returns every problem
// found, joined.
func CheckShape(data []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	c := &shapeChecker{}
	if _, ok := doc["payloadType"]; ok {
		payload := c.envelope(doc)
		if payload == nil {
			return c.err()
		}
		doc = nil
		if err := json.Unmarshal(payload, &doc); err != nil {
			return fmt.Errorf("envelope payload: %w", err)
		}
	}
	st := c.obj(doc, "statement", "statement")
	if st == nil {
		return c.err()
	}
	if st["_type"] != StatementType {
		c.bad("_type is %v, want %s", st["_type"], StatementType)
	}
	if st["predicateType"] != PredicateType {
		c.bad("predicateType is %v, want %s", st["predicateType"], PredicateType)
	}
	c.descriptors(st["subject"], "subject", true)
	pred := c.obj(st["predicate"], "predicate", "predicate")
	if pred == nil {
		return c.err()
	}
	if bd := c.obj(pred["buildDefinition"], "predicate.buildDefinition", "buildDefinition"); bd != nil {
		if _, ok := bd["externalParameters"].(map[string]any); !ok {
			c.bad("externalParameters must be an object")
		}
		c.descriptors(bd["resolvedDependencies"], "resolvedDependencies", false)
	}
	if rd := c.obj(pred["runDetails"], "predicate.runDetails", "runDetails"); rd != nil {
		c.runDetails(rd)
	}
	return c.err()
}

// envelope checks a DSSE envelope's fields and returns its decoded
// payload, nil when it has none.
func (c *shapeChecker) envelope(doc map[string]any) []byte {
	env := c.obj(doc, "envelope", "envelope")
	if env == nil {
		return nil
	}
	if env["payloadType"] != "application/vnd.in-toto+json" {
		c.bad("envelope payloadType is %v, want application/vnd.in-toto+json", env["payloadType"])
	}
	sigs, _ := env["signatures"].([]any)
	if len(sigs) == 0 {
		c.bad("envelope: no signatures")
	}
	for i, s := range sigs {
		if m := c.obj(s, fmt.Sprintf("signatures[%d]", i), "signature"); m != nil {
			if sig, _ := m["sig"].(string); sig == "" {
				c.bad("signatures[%d]: empty sig", i)
			}
		}
	}
	p, _ := env["payload"].(string)
	payload, err := base64.StdEncoding.DecodeString(p)
	if err != nil || len(payload) == 0 {
		c.bad("envelope payload is not base64: %v", err)
		return nil
	}
	return payload
}

// shapeChecker collects the problems CheckShape finds.
type shapeChecker struct{ probs []string }

func (c *shapeChecker) bad(format string, args ...any) {
	c.probs = append(c.probs, fmt.Sprintf(format, args...))
}

func (c *shapeChecker) err() error { return joinProblems(c.probs) }

// obj checks that v is an object with only the fields of kind and all of
// its required ones.
func (c *shapeChecker) obj(v any, path, kind string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		c.bad("%s: not an object", path)
		return nil
	}
	for k := range m {
		if _, known := specFields[kind][k]; !known {
			c.bad("%s: field %q is not in the %s spec", path, k, kind)
		}
	}
	for k, req := range specFields[kind] {
		if _, ok := m[k]; req && !ok {
			c.bad("%s: required field %q missing", path, k)
		}
	}
	return m
}

// descriptors checks a list of resource descriptors.
func (c *shapeChecker) descriptors(v any, path string, needDigest bool) {
	if v == nil {
		return
	}
	list, ok := v.([]any)
	if !ok {
		c.bad("%s: not a list", path)
		return
	}
	for i, d := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		m := c.obj(d, p, "descriptor")
		if m == nil {
			continue
		}
		dg, _ := m["digest"].(map[string]any)
		if m["uri"] == nil && len(dg) == 0 && m["content"] == nil {
			c.bad("%s: needs one of uri, digest, content", p)
		}
		if needDigest && len(dg) == 0 {
			c.bad("%s: a subject needs a digest", p)
		}
		for alg, val := range dg {
			if s, ok := val.(string); !ok || s == "" {
				c.bad("%s: digest %q: %v", p, alg, val)
			}
		}
	}
}

func (c *shapeChecker) runDetails(rd map[string]any) {
	if b := c.obj(rd["builder"], "runDetails.builder", "builder"); b != nil {
		if id, _ := b["id"].(string); id == "" {
			c.bad("builder.id is empty")
		}
	}
	if md, ok := rd["metadata"]; ok {
		if m := c.obj(md, "runDetails.metadata", "metadata"); m != nil {
			for _, k := range []string{"startedOn", "finishedOn"} {
				if s, ok := m[k].(string); ok {
					if _, err := time.Parse(time.RFC3339, s); err != nil {
						c.bad("metadata.%s: %v", k, err)
					}
				}
			}
		}
	}
	c.descriptors(rd["byproducts"], "byproducts", false)
}

func joinProblems(probs []string) error {
	if len(probs) == 0 {
		return nil
	}
	sort.Strings(probs)
	return fmt.Errorf("provenance does not follow the spec: %s", strings.Join(probs, "; "))
}
