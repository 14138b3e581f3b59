// goro's context switch for x86-64 System V.
//
// goro_context_switch(void** from_sp /*rdi*/, void* to_sp /*rsi*/)
//   pushes the callee-saved registers (rbp, rbx, r12-r15) and the MXCSR and
//   x87 control words on the running stack, stores rsp in *from_sp, loads
//   to_sp and pops the same frame from there, then returns into the resumed
//   context. Caller-saved registers need no saving: this is a call.
//
// A new context's stack is laid out by context_make (switch_x86_64.cpp part
// below, in C++) so that the first switch "returns" into goro_context_trampoline
// with r12 = entry function and r13 = its argument.

        .text
        .globl  goro_context_switch
        .hidden goro_context_switch
        .type   goro_context_switch, @function
        .p2align 4
goro_context_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   goro_context_switch, .-goro_context_switch

        .globl  goro_context_trampoline
        .hidden goro_context_trampoline
        .type   goro_context_trampoline, @function
        .p2align 4
goro_context_trampoline:
        .cfi_startproc
        // The bottom frame of every goroutine: tell unwinders and debuggers
        // that there is no caller above it.
        .cfi_undefined rip
        movq    %r13, %rdi
        callq   *%r12
        ud2
        .cfi_endproc
        .size   goro_context_trampoline, .-goro_context_trampoline

        .section .note.GNU-stack,"",@progbits
