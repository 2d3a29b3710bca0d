// hello is built two ways by twopaths.yaml; stamp is what a build that
// embeds its time sets (-ldflags -X main.stamp=…).
package main

var stamp string

func main() { println("hello", stamp) }
