/*
 * Scenario: a region 16 times the budget is written page by page (each
 * page stamped with its index and a pattern), then read back twice: every
 * page must come back exactly, through swap-out (compression) and swap-in.
 * Also checks the statistics saw zero, major faults and swap-outs, and
 * that uswap's threads carry their names (top -H, perf).
 */
#include <dirent.h>

#include "mmtest.h"

#define NPAGES 1024

static void fill(uint64_t *p, size_t i)
{
	for (size_t w = 0; w < PAGE_SIZE / 8; w++)
		p[w] = (i << 20) ^ (w * 0x9e3779b97f4a7c15ULL >> 40) ^ (w & 7);
}

/* Whether a thread of this process is named @name. */
static bool thread_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool found = false;

	CHECK(d, "/proc/self/task: %s", strerror(errno));
	while (!found && (e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		found = strcmp(comm, name) == 0;
	}
	closedir(d);
	return found;
}

static void verify(const uint64_t *p, size_t i)
{
	for (size_t w = 0; w < PAGE_SIZE / 8; w++) {
		uint64_t want =
			(i << 20) ^ (w * 0x9e3779b97f4a7c15ULL >> 40) ^ (w & 7);
		CHECK(p[w] == want, "page %zu word %zu: %#llx, want %#llx", i,
		      w, (unsigned long long)p[w], (unsigned long long)want);
	}
}

int main(void)
{
	struct mt_conf c = {.policy = SWAPIN_UNIFIED,
			    .budget_pages = 64,
			    .nslots = 2 * NPAGES,
			    .threads = 2,
			    .cache_pages = 8};
	struct uswap *u = mt_open(&c);
	struct uswap_stats st;
	char *a = uswap_map(u, NPAGES * PAGE_SIZE);

	CHECK(a, "uswap_map: %s", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++)
		fill((uint64_t *)(a + i * PAGE_SIZE), i);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < NPAGES; i++)
			verify((uint64_t *)(a + i * PAGE_SIZE), i);
	mm_quiesce(uswap_mm(u));
	uswap_stats(u, &st);
	printf("faults %llu zero %llu minor %llu major %llu swapouts %llu "
	       "resident %llu KiB stored %llu KiB compressed %llu KiB\n",
	       (unsigned long long)st.faults,
	       (unsigned long long)st.faults_zero,
	       (unsigned long long)st.faults_minor,
	       (unsigned long long)st.faults_major,
	       (unsigned long long)st.swapouts,
	       (unsigned long long)st.resident >> 10,
	       (unsigned long long)st.stored >> 10,
	       (unsigned long long)st.compressed >> 10);
	CHECK(st.faults_zero > 0, "no zero faults");
	CHECK(st.faults_major > 0, "no major faults");
	CHECK(st.swapouts > 0, "no swap-outs");
	CHECK(st.resident <= 64 * PAGE_SIZE, "resident %llu over budget",
	      (unsigned long long)st.resident);
	CHECK(thread_named("uswap-fault0"), "no thread named uswap-fault0");
	CHECK(thread_named("uswap-reclaim"), "no thread named uswap-reclaim");
	CHECK(uswap_unmap(u, a, NPAGES * PAGE_SIZE) == 0, "unmap");
	CHECK(mt_slots_inuse(u) == 0, "slots in use after unmap: %llu",
	      (unsigned long long)mt_slots_inuse(u));
	mt_validate(u);
	uswap_close(u);
	return 0;
}
