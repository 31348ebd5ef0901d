/* Serial protocol between a host (roboloop.hardware.mcu_bridge) and the policy firmware.
 *
 * Frame:  0xA5 0x5A | type u8 | seq u8 | len u16 LE | payload[len] | crc u16 LE
 * crc is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type, seq, len and payload.
 * All numbers are little-endian; floats are IEEE-754 binary32. The reply carries the request's seq.
 *
 *   host -> mcu                         mcu -> host
 *   HELLO  (0x01) empty                 INFO   (0x81) u16 obs_dim, u16 act_dim, u32 policy_id,
 *                                                     u8 quant (0 float32, 1 int8), u8 protocol version
 *   OBS    (0x02) obs_dim x f32         ACT    (0x82) u8 status (0 ok, 1 bad obs, 2 bad output),
 *                                                     act_dim x f32 (zeros unless status is 0)
 *   BENCH  (0x03) u32 n                 BENCH  (0x83) u32 policy_ticks, u32 empty_ticks, u32 calib_ticks,
 *                                                     u32 calib_instructions   (SysTick ticks, CPU clock)
 *   any error                           ERROR  (0xFF) u8 code (see PROTO_ERR_*), u8 type of the bad frame
 */
#ifndef PROTOCOL_H
#define PROTOCOL_H

#include <stdint.h>

#define PROTO_SYNC0 0xA5u
#define PROTO_SYNC1 0x5Au
#define PROTO_VERSION 1u
#define PROTO_MAX_PAYLOAD 512u

#define PROTO_HELLO 0x01u
#define PROTO_OBS 0x02u
#define PROTO_BENCH 0x03u
#define PROTO_INFO 0x81u
#define PROTO_ACT 0x82u
#define PROTO_BENCH_RESULT 0x83u
#define PROTO_ERROR 0xFFu

#define PROTO_ERR_CRC 1u        /* checksum mismatch: the frame was dropped */
#define PROTO_ERR_LENGTH 2u     /* payload length wrong for the type, or over PROTO_MAX_PAYLOAD */
#define PROTO_ERR_TYPE 3u       /* unknown frame type */

uint16_t proto_crc16(uint16_t crc, const uint8_t *data, uint32_t n);

/* Byte-at-a-time frame parser: feed bytes, a complete checked frame is reported once. */
typedef struct {
    uint8_t state;
    uint8_t type, seq;
    uint16_t len, pos, crc;
    uint8_t payload[PROTO_MAX_PAYLOAD];
} proto_parser;

enum { PROTO_NONE = 0, PROTO_FRAME = 1, PROTO_BAD_CRC = 2, PROTO_TOO_LONG = 3 };

void proto_reset(proto_parser *p);
int proto_feed(proto_parser *p, uint8_t byte);

/* Writes one frame through put(byte). */
void proto_send(void (*put)(uint8_t), uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t len);

#endif
