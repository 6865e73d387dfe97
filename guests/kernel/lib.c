/* Polled 16550 console at COM1 (abi.md §5.10: 8250 UART at 0x3F8), printk, strings. */
#include "lib.h"
#include "paravirt.h"
#if CONFIG_XEN
#include "xen.h"
#endif
#if CONFIG_LGUEST_GUEST
#include "lguest/lguest.h"
#endif
#include <stdarg.h>

#define COM1 0x3f8

void *memset(void *d, int c, size_t n)
{
	u8 *p = d;
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

u64 div64_u32(u64 n, u32 base, u32 *rem)
{
	/* Two 64/32 divl steps, as Linux's do_div on i386 (include/asm-i386/div64.h). */
	u32 hi = (u32)(n >> 32), lo = (u32)n, qhi = 0, qlo, r;
	if (hi >= base) {
		qhi = hi / base;
		hi = hi % base;
	}
	__asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(hi), "rm"(base));
	if (rem)
		*rem = r;
	return ((u64)qhi << 32) | qlo;
}

void serial_init(void)
{
	outb(0x00, COM1 + 1); /* no UART interrupts: the console is polled */
	outb(0x80, COM1 + 3); /* DLAB */
	outb(0x01, COM1 + 0); /* 115200 baud (divisor 1) */
	outb(0x00, COM1 + 1);
	outb(0x03, COM1 + 3); /* 8N1 */
	outb(0x07, COM1 + 2); /* FIFO on, cleared */
	outb(0x03, COM1 + 4); /* DTR RTS */
}

static void serial_putc(char c)
{
	/* LSR bit 5 = transmit holding register empty; bounded wait. */
	for (u32 i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		cpu_relax();
	outb((u8)c, COM1);
}

void console_write(const char *s, size_t n)
{
#if CONFIG_XEN
	if (xen_pv) { /* no port I/O in ring 1: the Xen console ring */
		xen_console_write(s, n);
		return;
	}
#endif
#if CONFIG_LGUEST_GUEST
	if (lguest_pv) { /* the launcher's console (SEND_DMA or NOTIFY) */
		lguest_console_write(s, n);
		return;
	}
#endif
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}

struct outbuf {
	char buf[256];
	u32 len;
};

static void out_flush(struct outbuf *o)
{
	console_write(o->buf, o->len);
	o->len = 0;
}

static void out_c(struct outbuf *o, char c)
{
	if (o->len == sizeof(o->buf))
		out_flush(o);
	o->buf[o->len++] = c;
}

static void out_num(struct outbuf *o, u64 v, u32 base, int width, char pad, int neg)
{
	char tmp[24];
	int n = 0;
	do {
		u32 r;
		v = div64_u32(v, base, &r);
		tmp[n++] = "0123456789abcdef"[r];
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (n < width)
		tmp[n++] = pad;
	while (n)
		out_c(o, tmp[--n]);
}

static void vprintk(const char *fmt, va_list ap)
{
	struct outbuf o;
	o.len = 0;
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_c(&o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		u64 v;
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			int len = (int)strlen(s);
			for (; len < width; len++)
				out_c(&o, ' ');
			while (*s)
				out_c(&o, *s++);
			break;
		}
		case 'c':
			out_c(&o, (char)va_arg(ap, int));
			break;
		case 'd':
			if (longs >= 2) {
				s64 sv = va_arg(ap, s64);
				out_num(&o, sv < 0 ? (u64)-sv : (u64)sv, 10, width, pad, sv < 0);
			} else {
				s32 sv = va_arg(ap, s32);
				out_num(&o, sv < 0 ? (u64)-(s64)sv : (u64)sv, 10, width, pad, sv < 0);
			}
			break;
		case 'u':
		case 'x':
			v = longs >= 2 ? va_arg(ap, u64) : va_arg(ap, u32);
			out_num(&o, v, *fmt == 'u' ? 10 : 16, width, pad, 0);
			break;
		case 'p':
			out_c(&o, '0');
			out_c(&o, 'x');
			out_num(&o, (u32)va_arg(ap, void *), 16, 8, '0', 0);
			break;
		case '%':
			out_c(&o, '%');
			break;
		default:
			out_c(&o, '?');
			break;
		}
	}
	out_flush(&o);
}

void printk(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}

void panic(const char *fmt, ...)
{
	va_list ap;
	printk("Kernel panic: ");
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\n");
	paravirt_ops.shutdown(SHUTDOWN_POWER_OFF, EXIT_PANIC);
	for (;;)
		;
}

static char cmdline[256];

void cmdline_set(const char *s)
{
	size_t n = 0;
	if (s)
		for (; s[n] && n < sizeof(cmdline) - 1; n++)
			cmdline[n] = s[n];
	cmdline[n] = 0;
}

const char *cmdline_get(void) { return cmdline; }

int cmdline_str(const char *key, char *out, size_t n)
{
	size_t klen = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			p += klen + 1;
			size_t i = 0;
			while (*p && *p != ' ' && i + 1 < n)
				out[i++] = *p++;
			out[i] = 0;
			return 1;
		}
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

int cmdline_u32(const char *key, u32 *out)
{
	char buf[24];
	if (!cmdline_str(key, buf, sizeof(buf)))
		return 0;
	const char *p = buf;
	u32 base = 10, v = 0;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (!*p)
		return 0;
	for (; *p; p++) {
		u32 d;
		if (*p >= '0' && *p <= '9')
			d = (u32)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (u32)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (u32)(*p - 'A' + 10);
		else
			return 0;
		v = v * base + d;
	}
	*out = v;
	return 1;
}
