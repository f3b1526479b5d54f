/*
 * lwipopts.h - lwIP's configuration for the floret microcontroller port:
 * bare metal (NO_SYS=1, raw API only, one thread), IPv4 + TCP + DHCP,
 * lwIP's MQTT client, and buffers sized for one MQTT message of
 * FL_MCU_MAX_MESSAGE bytes each way. Every size here is a RAM knob
 * (docs/microcontrollers.md, "Memory budget"); each can be overridden
 * with -D at build time.
 * Depends on nothing but the macros it defines.
 */
#ifndef FL_LWIPOPTS_H
#define FL_LWIPOPTS_H

/* Largest MQTT payload the firmware accepts or sends (bytes). */
#ifndef FL_MCU_MAX_MESSAGE
#define FL_MCU_MAX_MESSAGE 8192
#endif

/* ------------------------------------------------------------ system */
#define NO_SYS                      1
#define LWIP_SOCKET                 0
#define LWIP_NETCONN                0
#define LWIP_NETIF_API              0
#define SYS_LIGHTWEIGHT_PROT        0
#define LWIP_TIMERS                 1
#define LWIP_ERRNO_STDINCLUDE       1
#define LWIP_RAND()                 fl__lwip_rand()
#define LWIP_NETIF_STATUS_CALLBACK  1
#define LWIP_NETIF_LINK_CALLBACK    1
#define LWIP_NETIF_HOSTNAME         0
#define LWIP_STATS                  0

/* ------------------------------------------------------------ memory */
#define MEM_ALIGNMENT               4
/* lwIP's heap: outgoing TCP segments (tcp_write copies into it). */
#ifndef MEM_SIZE
#define MEM_SIZE                    (6 * 1024)
#endif
#define MEMP_NUM_PBUF               8
#define MEMP_NUM_RAW_PCB            0
#define MEMP_NUM_UDP_PCB            2
#define MEMP_NUM_TCP_PCB            2
#define MEMP_NUM_TCP_PCB_LISTEN     1
#define MEMP_NUM_TCP_SEG            16
#define MEMP_NUM_ARP_QUEUE          4
#define MEMP_NUM_SYS_TIMEOUT        (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 2)
/* Received frames: one TCP window of full-size segments and a spare. */
#ifndef PBUF_POOL_SIZE
#define PBUF_POOL_SIZE              4
#endif
#define PBUF_POOL_BUFSIZE           1536

/* ------------------------------------------------------------ protocols */
#define LWIP_ARP                    1
#define LWIP_ETHERNET               1
#define LWIP_IPV4                   1
#define LWIP_IPV6                   0
#define LWIP_ICMP                   1
#define LWIP_RAW                    0
#define LWIP_UDP                    1
#define LWIP_DHCP                   1
#define LWIP_AUTOIP                 0
#define LWIP_IGMP                   0
#define LWIP_DNS                    0
#define IP_REASSEMBLY               0
#define IP_FRAG                     0
#define LWIP_TCP                    1
#define TCP_MSS                     1460
/* The receive window is what the NIC and the pbuf pool must hold while
 * a task runs and nobody reads them: four segments. */
#ifndef TCP_WND
#define TCP_WND                     (3 * TCP_MSS)
#endif
#ifndef TCP_SND_BUF
#define TCP_SND_BUF                 (3 * TCP_MSS)
#endif
#define TCP_SND_QUEUELEN            ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
#define TCP_QUEUE_OOSEQ             0
#define LWIP_TCP_KEEPALIVE          0
#define LWIP_ALTCP                  0

/* ------------------------------------------------------------ MQTT */
/* The whole of the largest outgoing message must fit in the output ring
 * (lwIP's client refuses a publish that does not), with room for the
 * fixed header, the topic and a PUBACK or two. */
#define MQTT_OUTPUT_RINGBUF_SIZE    (FL_MCU_MAX_MESSAGE + 512)
/* Topic "floret/v1/<cluster>/node/<id>/in" (up to 147 bytes) plus the
 * headers must fit here; payloads pass through it in pieces this big. */
#define MQTT_VAR_HEADER_BUFFER_LEN  256
#define MQTT_REQ_MAX_IN_FLIGHT      16
/* Seconds a CONNECT may wait for its CONNACK (lwIP: 100). */
#define MQTT_CONNECT_TIMOUT         10

/* ------------------------------------------------------------ checks */
#define LWIP_DEBUG                  0
#define LWIP_NOASSERT_ON_ERROR      1

#endif
