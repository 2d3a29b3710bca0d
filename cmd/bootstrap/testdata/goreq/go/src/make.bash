#!/bin/sh
echo make.bash ran > "$MARKER"
