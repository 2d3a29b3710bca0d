#!/bin/sh
# greet: the program the patch round trip test builds.
echo "hello from greet"
echo "board: unknown"
echo "cpu: generic"
echo "bye"
