"use strict";
// Vietnamese and English strings; times are shown in the site's time zone.
const STRINGS = {
  vi: {
    title: "IOC Sóc Trăng - Giám sát", username: "Tên đăng nhập", password: "Mật khẩu", login: "Đăng nhập",
    logout: "Đăng xuất", tab_wall: "Camera", tab_sensors: "Cảm biến", tab_map: "Bản đồ", tab_events: "Sự kiện", tab_evidence: "Bằng chứng",
    alerts: "Cảnh báo", all_sites: "Tất cả địa bàn", all_severities: "Mọi mức", history: "Lịch sử",
    sev_critical: "Khẩn cấp", sev_warning: "Cảnh báo", sev_info: "Thông tin",
    ack: "Xác nhận", resolve: "Đóng", assign: "Giao", silence: "Tạm tắt", acked_by: "Đã xác nhận bởi",
    assigned_to: "Giao cho", assign_prompt: "Giao cảnh báo cho (tên người dùng):",
    silence_prompt: "Tạm tắt bao nhiêu phút?", silence_reason: "Tạm tắt từ bảng điều khiển",
    state_pending: "Chờ", state_firing: "Đang báo", state_acknowledged: "Đã xác nhận", state_resolved: "Đã đóng",
    online: "Trực tuyến", offline: "Mất kết nối", unknown: "Chưa rõ", range_24h: "24 giờ", range_7d: "7 ngày",
    range_30d: "30 ngày", all_cameras: "Tất cả camera", label: "Đối tượng", search: "Tìm", time: "Thời gian",
    camera: "Camera", kind: "Loại", zone_line: "Vùng / vạch", snapshot: "Ảnh", no_data: "Chưa có dữ liệu",
    threshold: "Ngưỡng", bad_login: "Sai tên đăng nhập hoặc mật khẩu", too_many: "Quá nhiều lần thử, vui lòng đợi",
    connecting: "Đang kết nối…", fallback: "Ảnh tĩnh (dự phòng)", counts: "Số lượt theo vùng / vạch",
    band_fresh: "Ngọt (<1‰)", band_rice: "Lúa chịu được (1-2‰)", band_orchard: "Cây ăn trái bị hại (2-4‰)",
    band_intrusion: "Xâm nhập mặn (>4‰)", aqi_good: "Tốt", aqi_moderate: "Trung bình", aqi_poor: "Kém",
    aqi_bad: "Xấu", aqi_very_bad: "Rất xấu", aqi_hazardous: "Nguy hại", fps: "khung/giây", viewers: "người xem",
    config_refused: "Bản sửa streams.yaml bị từ chối; hệ thống vẫn chạy cấu hình cũ",
    quality_calibrating: "Đang hiệu chuẩn", quality_error: "Lỗi thiết bị",
  },
  en: {
    title: "Sóc Trăng IOC - Monitoring", username: "User name", password: "Password", login: "Log in",
    logout: "Log out", tab_wall: "Cameras", tab_sensors: "Sensors", tab_map: "Map", tab_events: "Events", tab_evidence: "Evidence",
    alerts: "Alerts", all_sites: "All sites", all_severities: "All severities", history: "History",
    sev_critical: "Critical", sev_warning: "Warning", sev_info: "Info",
    ack: "Acknowledge", resolve: "Resolve", assign: "Assign", silence: "Silence", acked_by: "Acknowledged by",
    assigned_to: "Assigned to", assign_prompt: "Assign the alert to (user name):",
    silence_prompt: "Silence for how many minutes?", silence_reason: "Silenced from the console",
    state_pending: "Pending", state_firing: "Firing", state_acknowledged: "Acknowledged", state_resolved: "Resolved",
    online: "Online", offline: "Offline", unknown: "Unknown", range_24h: "24 h", range_7d: "7 days",
    range_30d: "30 days", all_cameras: "All cameras", label: "Object", search: "Search", time: "Time",
    camera: "Camera", kind: "Kind", zone_line: "Zone / line", snapshot: "Snapshot", no_data: "No data yet",
    threshold: "Threshold", bad_login: "Wrong user name or password", too_many: "Too many attempts, please wait",
    connecting: "Connecting…", fallback: "Still pictures (fallback)", counts: "Counts per zone / line",
    band_fresh: "Fresh (<1‰)", band_rice: "Rice tolerates (1-2‰)", band_orchard: "Orchards harmed (2-4‰)",
    band_intrusion: "Salt intrusion (>4‰)", aqi_good: "Good", aqi_moderate: "Moderate", aqi_poor: "Poor",
    aqi_bad: "Bad", aqi_very_bad: "Very bad", aqi_hazardous: "Hazardous", fps: "fps", viewers: "viewers",
    config_refused: "The streams.yaml edit was refused; the previous configuration keeps running",
    quality_calibrating: "Calibrating", quality_error: "Instrument error",
  },
};

const I18N = {
  lang: localStorage.getItem("ioc.lang") || "vi",
  timeZone: "Asia/Ho_Chi_Minh",
  t(key) { return (STRINGS[this.lang] || STRINGS.vi)[key] || STRINGS.en[key] || key; },
  set(lang) {
    this.lang = lang === "en" ? "en" : "vi";
    localStorage.setItem("ioc.lang", this.lang);
    this.apply();
    document.dispatchEvent(new CustomEvent("ioc:lang"));
  },
  apply(root = document) {
    document.documentElement.lang = this.lang;
    root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = this.t(el.dataset.i18n); });
    root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = this.t(el.dataset.i18nPlaceholder); });
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.textContent = this.lang === "vi" ? "EN" : "VI";
  },
  time(value, withDate = true) {
    if (!value) return "";
    const options = { timeZone: this.timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    if (withDate) Object.assign(options, { day: "2-digit", month: "2-digit", year: "numeric" });
    return new Intl.DateTimeFormat(this.lang === "vi" ? "vi-VN" : "en-GB", options).format(new Date(value));
  },
};
