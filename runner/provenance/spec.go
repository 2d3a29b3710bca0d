package provenance

import (
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
// every subject with a digest, and times in RFC 3339. It returns every
// problem found, joined.
func CheckShape(data []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	obj := func(v any, path, kind string) map[string]any {
		m, ok := v.(map[string]any)
		if !ok {
			bad("%s: not an object", path)
			return nil
		}
		for k := range m {
			if _, known := specFields[kind][k]; !known {
				bad("%s: field %q is not in the %s spec", path, k, kind)
			}
		}
		for k, req := range specFields[kind] {
			if _, ok := m[k]; req && !ok {
				bad("%s: required field %q missing", path, k)
			}
		}
		return m
	}
	descriptors := func(v any, path string, needDigest bool) {
		list, ok := v.([]any)
		if v == nil {
			return
		}
		if !ok {
			bad("%s: not a list", path)
			return
		}
		for i, d := range list {
			p := fmt.Sprintf("%s[%d]", path, i)
			m := obj(d, p, "descriptor")
			if m == nil {
				continue
			}
			dg, _ := m["digest"].(map[string]any)
			if m["uri"] == nil && len(dg) == 0 && m["content"] == nil {
				bad("%s: needs one of uri, digest, content", p)
			}
			if needDigest && len(dg) == 0 {
				bad("%s: a subject needs a digest", p)
			}
			for alg, val := range dg {
				if s, ok := val.(string); !ok || s == "" || alg != strings.ToLower(alg) && alg != DigestTreeHash && alg != DigestDirHash && alg != DigestGit && alg != "hgChangeset" {
					bad("%s: digest %q: %v", p, alg, val)
				}
			}
		}
	}
	st := obj(doc, "statement", "statement")
	if st == nil {
		return joinProblems(probs)
	}
	if st["_type"] != StatementType {
		bad("_type is %v, want %s", st["_type"], StatementType)
	}
	if st["predicateType"] != PredicateType {
		bad("predicateType is %v, want %s", st["predicateType"], PredicateType)
	}
	descriptors(st["subject"], "subject", true)
	pred := obj(st["predicate"], "predicate", "predicate")
	if pred == nil {
		return joinProblems(probs)
	}
	if bd := obj(pred["buildDefinition"], "predicate.buildDefinition", "buildDefinition"); bd != nil {
		if _, ok := bd["externalParameters"].(map[string]any); !ok {
			bad("externalParameters must be an object")
		}
		descriptors(bd["resolvedDependencies"], "resolvedDependencies", false)
	}
	if rd := obj(pred["runDetails"], "predicate.runDetails", "runDetails"); rd != nil {
		if b := obj(rd["builder"], "runDetails.builder", "builder"); b != nil {
			if id, _ := b["id"].(string); id == "" {
				bad("builder.id is empty")
			}
		}
		if md, ok := rd["metadata"]; ok {
			if m := obj(md, "runDetails.metadata", "metadata"); m != nil {
				for _, k := range []string{"startedOn", "finishedOn"} {
					if s, ok := m[k].(string); ok {
						if _, err := time.Parse(time.RFC3339, s); err != nil {
							bad("metadata.%s: %v", k, err)
						}
					}
				}
			}
		}
		descriptors(rd["byproducts"], "byproducts", false)
	}
	return joinProblems(probs)
}

func joinProblems(probs []string) error {
	if len(probs) == 0 {
		return nil
	}
	sort.Strings(probs)
	return fmt.Errorf("provenance does not follow the spec: %s", strings.Join(probs, "; "))
}
