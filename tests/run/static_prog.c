/* A statically linked program: `uswap run` must refuse it (errors.sh). */
int main(void)
{
	return 0;
}
