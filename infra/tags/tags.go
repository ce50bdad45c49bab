// Package tags builds the tag maps every component puts on its taggable resources.
package tags

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Named returns base (the stack-wide tags, e.g. project and stack) plus a Name tag,
// which the EC2 console shows as the resource's name. base is not modified.
func Named(base map[string]string, name string) pulumi.StringMap {
	m := pulumi.StringMap{"Name": pulumi.String(name)}
	for k, v := range base {
		m[k] = pulumi.String(v)
	}
	return m
}

// Of returns base as a StringMap, for resources whose console shows their own name.
func Of(base map[string]string) pulumi.StringMap {
	m := pulumi.StringMap{}
	for k, v := range base {
		m[k] = pulumi.String(v)
	}
	return m
}
