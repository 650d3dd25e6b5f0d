#ifndef SRIOVD_CNETLINK_SHIM_H
#define SRIOVD_CNETLINK_SHIM_H
#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/socket.h>
#include <netlink/route/link.h>
#include <netlink/route/link/sriov.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#endif
