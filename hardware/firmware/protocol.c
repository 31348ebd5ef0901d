#include "protocol.h"

uint16_t proto_crc16(uint16_t crc, const uint8_t *data, uint32_t n)
{
    uint32_t i;
    int b;
    for (i = 0; i < n; ++i) {
        crc ^= (uint16_t)data[i] << 8;
        for (b = 0; b < 8; ++b)
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

enum { S_SYNC0, S_SYNC1, S_TYPE, S_SEQ, S_LEN0, S_LEN1, S_PAYLOAD, S_CRC0, S_CRC1 };

void proto_reset(proto_parser *p) { p->state = S_SYNC0; }

int proto_feed(proto_parser *p, uint8_t byte)
{
    switch (p->state) {
    case S_SYNC0:
        if (byte == PROTO_SYNC0) p->state = S_SYNC1;
        return PROTO_NONE;
    case S_SYNC1:  /* A5 A5 5A still syncs on the second A5 */
        p->state = byte == PROTO_SYNC1 ? S_TYPE : (byte == PROTO_SYNC0 ? S_SYNC1 : S_SYNC0);
        return PROTO_NONE;
    case S_TYPE: p->type = byte; p->state = S_SEQ; return PROTO_NONE;
    case S_SEQ: p->seq = byte; p->state = S_LEN0; return PROTO_NONE;
    case S_LEN0: p->len = byte; p->state = S_LEN1; return PROTO_NONE;
    case S_LEN1:
        p->len |= (uint16_t)byte << 8;
        p->pos = 0;
        if (p->len > PROTO_MAX_PAYLOAD) { p->state = S_SYNC0; return PROTO_TOO_LONG; }
        p->state = p->len ? S_PAYLOAD : S_CRC0;
        return PROTO_NONE;
    case S_PAYLOAD:
        p->payload[p->pos++] = byte;
        if (p->pos == p->len) p->state = S_CRC0;
        return PROTO_NONE;
    case S_CRC0: p->crc = byte; p->state = S_CRC1; return PROTO_NONE;
    default: {
        uint8_t head[4];
        uint16_t crc;
        p->crc |= (uint16_t)byte << 8;
        p->state = S_SYNC0;
        head[0] = p->type; head[1] = p->seq; head[2] = (uint8_t)p->len; head[3] = (uint8_t)(p->len >> 8);
        crc = proto_crc16(proto_crc16(0xFFFFu, head, 4), p->payload, p->len);
        return crc == p->crc ? PROTO_FRAME : PROTO_BAD_CRC;
    }
    }
}

void proto_send(void (*put)(uint8_t), uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t len)
{
    uint8_t head[4];
    uint16_t crc, i;
    head[0] = type; head[1] = seq; head[2] = (uint8_t)len; head[3] = (uint8_t)(len >> 8);
    crc = proto_crc16(proto_crc16(0xFFFFu, head, 4), payload, len);
    put(PROTO_SYNC0);
    put(PROTO_SYNC1);
    for (i = 0; i < 4; ++i) put(head[i]);
    for (i = 0; i < len; ++i) put(payload[i]);
    put((uint8_t)crc);
    put((uint8_t)(crc >> 8));
}
