/* rot13: the chain's tool, built by the first component and used by the
   second. Reads stdin, writes stdin rotated by 13 letters. */
#include <stdio.h>
#include <ctype.h>

int main(void) {
	int c;
	while ((c = getchar()) != EOF) {
		if (isupper(c)) c = 'A' + (c - 'A' + 13) % 26;
		else if (islower(c)) c = 'a' + (c - 'a' + 13) % 26;
		putchar(c);
	}
	return 0;
}
