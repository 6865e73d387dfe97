/* Ring transitions: enter_user() IRETs to ring 3; int 0x82 (user_exit) returns to its caller.
 * callgate_target is reached from ring 3 through a call gate with one parameter. */
	.text
	.globl enter_user
/* void enter_user(void (*fn)(void), u32 user_esp, u32 eflags) */
enter_user:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl %esp, g_kesp
	movl 20(%esp), %eax       /* fn */
	movl 24(%esp), %ecx       /* user esp */
	movl 28(%esp), %edx       /* eflags */
	pushl $0x23               /* ss */
	pushl %ecx                /* esp */
	pushl %edx                /* eflags */
	pushl $0x1b               /* cs */
	pushl %eax                /* eip */
	movw $0x23, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	iret

	.globl user_exit
user_exit:                    /* interrupt gate DPL 3, vector 0x82 */
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movl g_kesp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.globl callgate_target
callgate_target:              /* ring 0, reached by lcall through a gate with 1 dword param */
	movl %cs, %eax
	movl %eax, g_gate_cs
	movl %ss, %eax
	movl %eax, g_gate_ss
	movl 4(%esp), %eax        /* caller's CS */
	movl %eax, g_gate_caller_cs
	movl 8(%esp), %eax        /* the copied parameter */
	movl %eax, g_gate_param
	movl 16(%esp), %eax       /* caller's SS */
	movl %eax, g_gate_caller_ss
	lret $4

	.data
	.globl g_kesp
g_kesp: .long 0
