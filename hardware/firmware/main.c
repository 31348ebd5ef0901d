/* Policy firmware: read an observation frame from the UART, run policy_step, send the action back.
 * See protocol.h for the frames. Nothing here allocates; a bad frame gets an ERROR reply and is dropped. */
#include <stdint.h>

#include "board.h"
#include "policy.h"
#include "protocol.h"

static proto_parser parser;
static float obs[POLICY_OBS_DIM];
static uint8_t reply[4 + 4 * POLICY_ACT_DIM + 16];

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void send_error(uint8_t seq, uint8_t code, uint8_t type)
{
    uint8_t e[2];
    e[0] = code;
    e[1] = type;
    proto_send(uart_putc, PROTO_ERROR, seq, e, 2);
}

static void __attribute__((noinline)) empty_step(const float *o, float *a)
{
    __asm volatile("" : : "r"(o), "r"(a) : "memory");
}

/* SysTick ticks for n policy_step calls, for n calls of an empty function (the loop's own cost),
 * and for a loop of exactly 2 * 100000 instructions (subs + bne) that calibrates ticks per instruction. */
static void bench(uint32_t n, uint8_t seq)
{
    static float act[POLICY_ACT_DIM];
    uint64_t t0, t1, t2, t3, t4;
    uint32_t i, k = 100000u;
    t0 = cycles_now();
    for (i = 0; i < n; ++i) policy_step(obs, act);
    t1 = cycles_now();
    for (i = 0; i < n; ++i) empty_step(obs, act);
    t2 = cycles_now();
    __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(k) : : "cc");
    t3 = cycles_now();
    t4 = cycles_now();
    put_u32(reply, (uint32_t)(t1 - t0));
    put_u32(reply + 4, (uint32_t)(t2 - t1));
    put_u32(reply + 8, (uint32_t)((t3 - t2) - (t4 - t3)));
    put_u32(reply + 12, 200000u);
    proto_send(uart_putc, PROTO_BENCH_RESULT, seq, reply, 16);
}

static void handle(const proto_parser *p)
{
    uint32_t i;
    switch (p->type) {
    case PROTO_HELLO:
        reply[0] = (uint8_t)POLICY_OBS_DIM; reply[1] = (uint8_t)(POLICY_OBS_DIM >> 8);
        reply[2] = (uint8_t)POLICY_ACT_DIM; reply[3] = (uint8_t)(POLICY_ACT_DIM >> 8);
        put_u32(reply + 4, POLICY_ID);
        reply[8] = POLICY_QUANT_INT8;
        reply[9] = PROTO_VERSION;
        proto_send(uart_putc, PROTO_INFO, p->seq, reply, 10);
        break;
    case PROTO_OBS: {
        float act[POLICY_ACT_DIM];
        int status;
        if (p->len != 4u * POLICY_OBS_DIM) {
            send_error(p->seq, PROTO_ERR_LENGTH, p->type);
            break;
        }
        for (i = 0; i < POLICY_OBS_DIM; ++i) {
            union { uint32_t u; float f; } v;
            v.u = get_u32(p->payload + 4 * i);
            obs[i] = v.f;
        }
        status = policy_step(obs, act);
        reply[0] = (uint8_t)status;
        for (i = 0; i < POLICY_ACT_DIM; ++i) {
            union { uint32_t u; float f; } v;
            v.f = act[i];
            put_u32(reply + 1 + 4 * i, v.u);
        }
        proto_send(uart_putc, PROTO_ACT, p->seq, reply, (uint16_t)(1 + 4 * POLICY_ACT_DIM));
        break;
    }
    case PROTO_BENCH:
        if (p->len != 4u) {
            send_error(p->seq, PROTO_ERR_LENGTH, p->type);
            break;
        }
        bench(get_u32(p->payload), p->seq);
        break;
    default:
        send_error(p->seq, PROTO_ERR_TYPE, p->type);
    }
}

int main(void)
{
    board_init();
    proto_reset(&parser);
    for (;;) {
        int r = proto_feed(&parser, uart_getc());
        if (r == PROTO_FRAME)
            handle(&parser);
        else if (r == PROTO_BAD_CRC)
            send_error(parser.seq, PROTO_ERR_CRC, parser.type);
        else if (r == PROTO_TOO_LONG)
            send_error(parser.seq, PROTO_ERR_LENGTH, parser.type);
    }
}
